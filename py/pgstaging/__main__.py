import sys

from pgstaging.cli import main

sys.exit(main())
