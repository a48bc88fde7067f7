import sys

from mogenet.cli import main

sys.exit(main())
