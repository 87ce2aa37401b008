import sys

from synapsed.main import main

sys.exit(main())
