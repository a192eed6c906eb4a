# Thin wrappers: everything is in scripts/platform (works without make too).
.PHONY: setup run test bench contracts
setup:
	./scripts/platform setup
run:
	./scripts/platform run
test:
	./scripts/platform test
bench:
	./scripts/platform bench
contracts:
	./scripts/platform contracts
