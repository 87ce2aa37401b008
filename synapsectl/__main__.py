import sys

from synapsectl.cli import main

sys.exit(main())
