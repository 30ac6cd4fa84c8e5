import sys

from hitl_core.cli import main

sys.exit(main())
