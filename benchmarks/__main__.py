"""`python -m benchmarks`: run every benchmark, print the table, write results.json."""

from benchmarks.run import main

raise SystemExit(main())
