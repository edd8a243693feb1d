from shared_utils.local.cli import main

raise SystemExit(main())
