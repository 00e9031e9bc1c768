# The project's habits in one place. `make lint` and `make test` are what CI runs (.ci/run).
PY ?= python

.PHONY: lint test fmt typecheck

lint: typecheck
	ruff check python tests benches scripts
	ruff format --check python tests benches scripts
	cargo fmt --check
	cargo clippy -q --all-targets -- -D warnings
	cargo clippy -q --all-targets --features python -- -D warnings

# mypy on the package; stubtest checks the hand-written _core.pyi against the built module
# (CI's only stubtest run: it costs a minute, so pytest does not repeat it).
typecheck:
	mypy
	$(PY) -m mypy.stubtest dejacache._core --allowlist /dev/null

fmt:
	ruff check --fix python tests benches scripts
	ruff format python tests benches scripts
	cargo fmt

test:
	cargo test --release -q
	$(PY) -m pytest -q
