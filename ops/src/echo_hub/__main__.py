from echo_hub.cli import main

raise SystemExit(main())
