"""One typed Settings object, read from the environment and an optional .env file.

The seed documents' names (DATABASE_URL, REDIS_HOST, MAX_WORKERS, ...) are the environment
variable names; ProfAI's own additions use the PROFAI_ prefix only where a bare name would be
ambiguous (PROFAI_DATA_DIR).
"""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of ProfAI; backends are chosen from these once, at start-up (see wiring.py)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production", "test"] = Field("development", alias="ENVIRONMENT")
    data_dir: Path = Field(Path("data"), alias="PROFAI_DATA_DIR")
    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(5001, alias="PORT")
    # API processes sharing the port (see serving.py): more spread uploads over the cores.
    api_processes: int = Field(1, alias="API_PROCESSES", ge=1, le=32)
    # One log line per request costs more than a status read itself; a proxy in front logs them too.
    access_log: bool = Field(False, alias="ACCESS_LOG")
    # Observability (observability/): LOG_FORMAT=json writes one JSON object per line. GET /metrics
    # answers admins, and Prometheus when it sends METRICS_TOKEN as a bearer token. Every process of
    # a deployment on one host writes its samples to PROMETHEUS_MULTIPROC_DIR (default: a folder
    # per host name under the data folder's metrics/; a local disk is best).
    log_format: Literal["text", "json"] = Field("text", alias="LOG_FORMAT")
    metrics_token: str | None = Field(None, alias="METRICS_TOKEN", min_length=16)
    prometheus_multiproc_dir: Path | None = Field(None, alias="PROMETHEUS_MULTIPROC_DIR")

    # Relational data: SQLite under data_dir unless DATABASE_URL is set (and USE_DATABASE is not false).
    use_database: bool = Field(True, alias="USE_DATABASE")
    database_url: str | None = Field(None, alias="DATABASE_URL")

    # Jobs
    job_runner: Literal["local", "celery"] = Field("local", alias="JOB_RUNNER")
    max_workers: int = Field(3, alias="MAX_WORKERS", ge=1, le=64)
    compute_processes: int = Field(0, alias="COMPUTE_PROCESSES", ge=0, le=64)  # 0: one per core
    task_timeout: int = Field(1800, alias="TASK_TIMEOUT", ge=5)  # hard limit per job or part, seconds
    task_soft_timeout: int | None = Field(None, alias="TASK_SOFT_TIMEOUT")  # default: hard - 60 s
    lease_seconds: float = Field(45.0, alias="JOB_LEASE_SECONDS", gt=0)
    heartbeat_seconds: float = Field(10.0, alias="JOB_HEARTBEAT_SECONDS", gt=0)
    reaper_interval: float = Field(5.0, alias="REAPER_INTERVAL_SECONDS", gt=0)
    max_attempts: int = Field(3, alias="JOB_MAX_ATTEMPTS", ge=1)
    # A job that meets a passing failure (a connection refused or dropped: errors.transient) waits
    # this long before its next attempt, doubling each attempt (with jitter, at most 60 s).
    retry_backoff_seconds: float = Field(2.0, alias="JOB_RETRY_BACKOFF_SECONDS", ge=0)
    # Vectors and uploaded files that belong to no job or course are removed by the reaper this
    # often (0: never; `profai doctor --fix` does it by hand); files younger than the grace are
    # left alone, since an upload writes its file before its job exists.
    orphan_sweep_seconds: float = Field(600.0, alias="ORPHAN_SWEEP_SECONDS", ge=0)
    orphan_grace_seconds: float = Field(3600.0, alias="ORPHAN_GRACE_SECONDS", ge=0)
    sync_wait_seconds: float = Field(300.0, alias="SYNC_WAIT_SECONDS", gt=0)

    # Queue (Celery on Redis)
    redis_url: str | None = Field(None, alias="REDIS_URL")
    redis_host: str = Field("127.0.0.1", alias="REDIS_HOST")
    redis_port: int = Field(6379, alias="REDIS_PORT")
    redis_db: int = Field(0, alias="REDIS_DB")
    worker_max_memory_mb: int = Field(2048, alias="WORKER_MAX_MEMORY_MB", ge=64)
    celery_queue: str = Field("profai", alias="CELERY_QUEUE")
    # A message a worker took and never acknowledged (it was killed) goes back to the queue after
    # CELERY_VISIBILITY_TIMEOUT (default: twice JOB_LEASE_SECONDS), checked every
    # CELERY_RESTORE_INTERVAL_SECONDS (default: a third of the lease). The job's lease, not the
    # message, decides who runs a job, so a redelivered message of a running or settled job runs
    # nothing twice; the reaper has requeued a dead worker's job by then anyway (see README).
    celery_visibility_timeout: float | None = Field(None, alias="CELERY_VISIBILITY_TIMEOUT", gt=0)
    celery_restore_interval: float | None = Field(None, alias="CELERY_RESTORE_INTERVAL_SECONDS", gt=0)
    # Extra modules that register pipelines (tests use this to add fault-injecting job kinds).
    plugins: str = Field("", alias="PROFAI_PLUGINS")

    # Uploads
    max_upload_mb: float = Field(50, alias="MAX_UPLOAD_MB", gt=0)
    max_files: int = Field(10, alias="MAX_FILES", ge=1)
    # CSV datasets are far larger than PDFs: 1M rows of text is ~400 MB.
    max_dataset_mb: float = Field(2048, alias="MAX_DATASET_MB", gt=0)
    # Hostile input: limits that a real textbook never nears (a 1,000-page one is ~3M characters,
    # ~10 ms and ~100 KB of content a page, read in under 100 MB), so a crafted file fails fast and
    # clearly instead of holding a process (ingest/pdf_limits.py, pipelines/compute.py).
    max_pdf_pages: int = Field(2000, alias="MAX_PDF_PAGES", ge=1)
    max_pdf_chars: int = Field(20_000_000, alias="MAX_PDF_CHARS", ge=1)  # extracted text per PDF
    # Content, fonts and object streams once decompressed (images are not decoded to read text).
    max_pdf_inflated_mb: float = Field(256, alias="MAX_PDF_INFLATED_MB", gt=0)
    pdf_page_seconds: float = Field(10, alias="PDF_PAGE_SECONDS", gt=0)  # to read one page
    pdf_memory_mb: float = Field(1024, alias="PDF_MEMORY_MB", ge=256)  # a PDF reader process, all told
    max_csv_columns: int = Field(1000, alias="MAX_CSV_COLUMNS", ge=1)
    # Slow clients, as nginx's timeouts of the same names: seconds to send the request line and
    # headers, and the longest pause between two pieces of a body.
    client_header_timeout: float = Field(30, alias="CLIENT_HEADER_TIMEOUT", gt=0)
    client_body_timeout: float = Field(30, alias="CLIENT_BODY_TIMEOUT", gt=0)

    # Vectors
    chroma_url: str | None = Field(None, alias="CHROMA_URL")
    use_chroma_cloud: bool = Field(False, alias="USE_CHROMA_CLOUD")
    chroma_cloud_api_key: str | None = Field(None, alias="CHROMA_CLOUD_API_KEY")
    chroma_cloud_tenant: str | None = Field(None, alias="CHROMA_CLOUD_TENANT")
    chroma_cloud_database: str | None = Field(None, alias="CHROMA_CLOUD_DATABASE")
    # Where Chroma Cloud answers; another address points the cloud client at a Chroma server of your
    # own (tests use a local `chroma run` with a tenant and database of their own).
    chroma_cloud_url: str = Field("https://api.trychroma.com", alias="CHROMA_CLOUD_URL")

    # Providers
    embedder: Literal["local", "openai"] = Field("local", alias="EMBEDDER")
    embedding_threads: int = Field(1, alias="EMBEDDING_THREADS", ge=1)
    # Where the local model runs: auto picks OpenVINO when installed (else ONNX Runtime) and bf16
    # where the CPU computes in it (AVX512_BF16, AMX); either can be forced (bench/embedders.py).
    embedding_runtime: Literal["auto", "openvino", "onnxruntime"] = Field("auto", alias="EMBEDDING_RUNTIME")
    embedding_precision: Literal["auto", "f32", "bf16"] = Field("auto", alias="EMBEDDING_PRECISION")
    embedding_model: str = Field("text-embedding-3-small", alias="EMBEDDING_MODEL")
    embedding_base_url: str = Field("https://api.openai.com/v1", alias="EMBEDDING_BASE_URL")
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY")
    openai_rate_limit: float = Field(5.0, alias="OPENAI_RATE_LIMIT", gt=0)
    embedding_dimension: int | None = Field(None, alias="EMBEDDING_DIMENSION", ge=1)  # None: the model's own
    http_timeout_seconds: float = Field(60.0, alias="HTTP_TIMEOUT_SECONDS", gt=0)  # per hosted-API attempt
    groq_api_key: str | None = Field(None, alias="GROQ_API_KEY")
    generator: Literal["extractive", "openai"] = Field("extractive", alias="GENERATOR")
    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_model: str | None = Field(None, alias="LLM_MODEL")
    llm_api_key: str | None = Field(None, alias="LLM_API_KEY")
    llm_timeout_seconds: float = Field(120.0, alias="LLM_TIMEOUT_SECONDS", gt=0)  # per attempt

    # Speech (lesson and answer audio): eSpeak NG offline by default, or an OpenAI-compatible API.
    # SPEECH_VOICE overrides the voice chosen from the language; SPEECH_API_KEY falls back to OPENAI_API_KEY.
    speech: Literal["espeak", "openai"] = Field("espeak", alias="SPEECH")
    speech_language: str = Field("en", alias="SPEECH_LANGUAGE")
    speech_voice: str | None = Field(None, alias="SPEECH_VOICE")
    speech_rate_wpm: int = Field(165, alias="SPEECH_RATE", ge=80, le=450)  # eSpeak's accepted range
    tts_max_chars: int = Field(5000, alias="TTS_MAX_CHARS", ge=1)
    # Lesson audio is WAV (~13 MB for a 5-minute lesson): past this the least recently used goes.
    audio_cache_mb: float = Field(2048, alias="AUDIO_CACHE_MB", gt=0)
    page_cache_mb: float = Field(1024, alias="PAGE_CACHE_MB", gt=0)  # source pages drawn as PNG
    speech_base_url: str | None = Field(None, alias="SPEECH_BASE_URL")  # default: OpenAI's API
    speech_model: str = Field("tts-1", alias="SPEECH_MODEL")
    speech_api_key: str | None = Field(None, alias="SPEECH_API_KEY")

    # CSV datasets (the VectorDB seed's names)
    chunk_size: int = Field(1000, alias="CHUNK_SIZE", ge=1)
    batch_size: int = Field(100, alias="BATCH_SIZE", ge=1)

    # Request limits (per user or key)
    # Request bodies but multipart uploads (JSON: a chat question, a quiz's answers) are refused past this.
    max_json_bytes: int = Field(64 * 1024, alias="MAX_JSON_BYTES", ge=1)
    # Requests a second per API key, session, or else client address, after a burst of RATE_LIMIT_BURST;
    # 0 turns the limit off. Shared by all processes through Redis when Redis is configured.
    rate_limit_per_second: float = Field(20.0, alias="RATE_LIMIT_PER_SECOND", ge=0, le=100_000)
    rate_limit_burst: int = Field(100, alias="RATE_LIMIT_BURST", ge=1)
    # Chat messages a second on one WebSocket, after a burst of WS_MESSAGE_BURST; 0 turns the limit off.
    ws_messages_per_second: float = Field(2.0, alias="WS_MESSAGES_PER_SECOND", ge=0)
    ws_message_burst: int = Field(5, alias="WS_MESSAGE_BURST", ge=1)

    # Accounts. API_KEY is the CSV seed's one key: it acts as an admin that owns nothing.
    api_key: str | None = Field(None, alias="API_KEY", min_length=16)
    # Host headers served (DNS rebinding): a comma-separated list, "*" for any.
    allowed_hosts: str = Field("localhost,127.0.0.1,[::1]", alias="ALLOWED_HOSTS")
    # Cookies marked Secure: on for HTTPS requests (X-Forwarded-Proto from the proxy counts) unless set.
    secure_cookies: bool | None = Field(None, alias="SECURE_COOKIES")
    session_days: float = Field(14, alias="SESSION_DAYS", gt=0)
    # How long a process trusts a session or key it has checked: a revoked key stops within this.
    identity_cache_seconds: float = Field(5.0, alias="IDENTITY_CACHE_SECONDS", ge=0, le=60)
    # Per user: unfinished jobs at once, and jobs (uploads) started in any hour.
    max_active_jobs: int = Field(5, alias="MAX_ACTIVE_JOBS", ge=1)
    uploads_per_hour: int = Field(60, alias="UPLOADS_PER_HOUR", ge=1)
    # Per user: chat WebSockets open at once (in each API process).
    max_chat_sockets: int = Field(5, alias="MAX_CHAT_SOCKETS", ge=1)
    # Live feeds (GET /api/events) open at once: per user (a tab each), and in all (in each API process).
    # (Field names unlike the aliases: settings match names case-blind, MAX_EVENT_STREAMS would hit one.)
    event_streams_per_user: int = Field(8, alias="MAX_EVENT_STREAMS_PER_USER", ge=1)
    event_streams_total: int = Field(1000, alias="MAX_EVENT_STREAMS", ge=1)

    @field_validator("api_key", "metrics_token", mode="before")
    @classmethod
    def _no_empty_key(cls, value: object) -> object:
        # `API_KEY=` in a .env file means no key, not an empty one.
        return None if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.task_soft_timeout is None:
            self.task_soft_timeout = max(1, self.task_timeout - 60)
        if self.task_soft_timeout >= self.task_timeout:
            raise ValueError("TASK_SOFT_TIMEOUT must be below TASK_TIMEOUT")
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ValueError("JOB_HEARTBEAT_SECONDS must be below JOB_LEASE_SECONDS")
        if self.celery_visibility_timeout is None:
            self.celery_visibility_timeout = 2 * self.lease_seconds
        if self.celery_restore_interval is None:
            self.celery_restore_interval = max(1.0, self.lease_seconds / 3)
        if self.job_runner == "celery" and self.sqlalchemy_url.startswith("sqlite"):
            raise ValueError("JOB_RUNNER=celery needs a shared database: set DATABASE_URL (PostgreSQL)")
        if self.environment == "production" and self.embedder == "openai" and not self.openai_api_key:
            raise ValueError("EMBEDDER=openai needs OPENAI_API_KEY")
        if self.environment == "production" and self.speech == "openai" and not (
            self.speech_api_key or self.openai_api_key
        ):
            raise ValueError("SPEECH=openai needs SPEECH_API_KEY (or OPENAI_API_KEY)")
        if self.use_chroma_cloud:
            missing = [name for name, value in (("CHROMA_CLOUD_API_KEY", self.chroma_cloud_api_key),
                                                ("CHROMA_CLOUD_TENANT", self.chroma_cloud_tenant),
                                                ("CHROMA_CLOUD_DATABASE", self.chroma_cloud_database)) if not value]
            if missing:
                raise ValueError(f"USE_CHROMA_CLOUD=true needs {', '.join(missing)}")
        return self

    @property
    def vector_backend(self) -> Literal["cloud", "server", "embedded"]:
        """Where vectors live: Chroma Cloud (USE_CHROMA_CLOUD), a Chroma server (CHROMA_URL), else
        embedded Chroma under data_dir."""
        if self.use_chroma_cloud:
            return "cloud"
        return "server" if self.chroma_url else "embedded"

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL (postgres:// normalised to psycopg 3), else SQLite under data_dir."""
        url = self.database_url if self.use_database else None
        if not url:
            return f"sqlite:///{(self.data_dir / 'profai.sqlite3').resolve()}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def metrics_dir(self) -> Path:
        """Where every process of this deployment on this host writes its metrics: one folder per
        host, since the files are named by pid (the data folder may be shared by several hosts)."""
        return self.prometheus_multiproc_dir or self.data_dir / "metrics" / socket.gethostname()

    @property
    def broker_url(self) -> str:
        return self.redis_url or f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_dataset_bytes(self) -> int:
        return int(self.max_dataset_mb * 1024 * 1024)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
