"""The `profai` command: serve, ingest PDFs, list courses. Commands call services directly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from profai.domain import CLI, Principal
from profai.settings import get_settings

if TYPE_CHECKING:
    from profai.db.models import Course, Job
    from profai.wiring import Container

app = typer.Typer(help="ProfAI: turn teaching material into courses.", no_args_is_help=True)
console = Console()


@contextmanager
def _expected_errors() -> Iterator[None]:
    """Expected errors print their code and exit 2."""
    from profai.errors import ProfAIError

    try:
        yield
    except ProfAIError as exc:
        console.print(f"[red]{exc.code}:[/red] {exc.message}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def _container(runner: str = "none") -> Iterator[Container]:
    """A Container for one command; expected errors print their code and exit 2."""
    from profai.wiring import build_container

    ctx = build_container(get_settings(), runner=runner, compute_processes=None if runner == "local" else 0)
    if ctx.runner is not None:
        ctx.runner.start()
    try:
        with _expected_errors():
            yield ctx
    finally:
        ctx.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, 5001)")] = None,
) -> None:
    """Start the HTTP API (and, in embedded mode, the local worker pool)."""
    from profai.observability import process

    s = get_settings()
    process.start(s.log_format, s.metrics_dir)  # LOG_FORMAT; metrics shared by every process (first)
    from profai.serving import serve as serve_api

    serve_api(s, host or s.host, port or s.port)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Job processes")] = 2,
    loglevel: Annotated[str, typer.Option(help="Log level")] = "INFO",
) -> None:
    """Run a Celery worker (JOB_RUNNER=celery): takes job ids from Redis, runs their pipelines."""
    from profai.observability import process

    process.share_metrics(get_settings().metrics_dir)  # before the worker's modules record any
    from profai.worker import main as worker_main

    worker_main(concurrency, loglevel)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="PDF files that make one course", exists=True, dir_okay=False)],
    title: Annotated[str, typer.Option("--title", "-t", help="Course title")],
) -> None:
    """Build a course from PDFs here and now, with a progress bar; prints the outline."""
    from profai.services import courses as course_service
    from profai.services import jobs as job_service
    from profai.services.uploads import IncomingFile

    with _container("local") as ctx:
        handles = [f.open("rb") for f in files]
        try:
            job = course_service.start_course_job(
                ctx, CLI, title, [IncomingFile(f.name, h) for f, h in zip(files, handles, strict=True)]
            )
        finally:
            for h in handles:
                h.close()
        job = _follow(ctx, job.id, job_service.get_job)
        if job.status != "completed":
            console.print(f"[red]Failed:[/red] {job.error}")
            raise typer.Exit(1)
        assert job.result is not None  # a completed course job records its course_id
        _print_outline(course_service.get_course(ctx, CLI, job.result["course_id"]))


def _follow(ctx: Container, job_id: str, get_job: Callable[[Container, Principal, str], Job]) -> Job:
    """Show a job's progress until it finishes."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("Waiting", total=100)
        while True:
            job = get_job(ctx, CLI, job_id)
            bar.update(task, completed=job.progress, description=job.message[:60])
            if job.status in ("completed", "partially_completed", "failed", "cancelled"):
                return job
            time.sleep(0.2)


def _print_outline(course: Course) -> None:
    console.print(f"[bold]Course {course.id}: {course.title}[/bold]")
    for m_n, module in enumerate(course.modules, start=1):
        console.print(f"  {m_n}. {module.title}")
        for l_n, lesson in enumerate(module.lessons, start=1):
            pages = f"p. {lesson.page_start}" + (f"-{lesson.page_end}" if lesson.page_end != lesson.page_start else "")
            console.print(f"     {m_n}.{l_n} {lesson.title}  [dim]({lesson.source_file}, {pages})[/dim]")


@app.command()
def courses() -> None:
    """List courses."""
    from profai.services import courses as course_service

    with _container() as ctx:
        rows, total = course_service.list_courses(ctx, CLI)
        for course, modules, lessons in rows:
            console.print(f"{course.id:>5}  {course.title}  [dim]{modules} modules, {lessons} lessons, "
                          f"{course.created_at:%Y-%m-%d %H:%M}[/dim]")
        console.print(f"[dim]{total} course(s)[/dim]")


@app.command()
def ask(
    course_id: Annotated[int, typer.Argument(help="Course number (see `profai courses`)")],
    question: Annotated[str, typer.Argument(help="Your question")],
    session: Annotated[str | None, typer.Option(help="Continue a conversation (its session id)")] = None,
) -> None:
    """Ask a course a question; the answer streams, then its sources."""
    from profai.domain import ChatAnswer
    from profai.services import chat as chat_service

    with _container() as ctx:
        prepared = chat_service.prepare(ctx, CLI, course_id, question, session)
        answer = None
        for piece in chat_service.stream(ctx, prepared):
            if isinstance(piece, ChatAnswer):
                answer = piece
            else:
                console.print(piece, end="", soft_wrap=True)
        console.print()
        assert answer is not None  # the stream ends with its ChatAnswer
        if answer.note:
            console.print(f"[yellow]{answer.note}[/yellow]")
        for src in chat_service.sources(answer, prepared):
            pages = f"p. {src['page']}" + (f"-{src['page_end']}" if src["page_end"] != src["page"] else "")
            console.print(f"[dim][{src['number']}] {src['file']}, {pages}: {src['quote'][:160]}[/dim]")
        console.print(f"[dim]session {prepared.session_id}[/dim]")


@app.command()
def speak(
    text: Annotated[str, typer.Argument(help="Text to read aloud")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Audio file to write")] = Path("speech.wav"),
    language: Annotated[str | None, typer.Option(help="Language, e.g. en, hi, ta")] = None,
    voice: Annotated[str | None, typer.Option(help="A voice of the speech engine")] = None,
) -> None:
    """Speak text into an audio file (eSpeak NG offline by default)."""
    from profai.services.audio import speak as speak_text

    with _container() as ctx:
        s = ctx.settings
        audio = speak_text(ctx.speech, text, language or s.speech_language, voice or s.speech_voice,
                           max_chars=s.tts_max_chars)
        out.write_bytes(audio.path.read_bytes())
        console.print(f"{out} ({audio.seconds:.1f} s, {audio.media_type})")


@app.command("import-json")
def import_json(path: Annotated[Path, typer.Argument(help="A seed-era course_output.json", exists=True)]) -> None:
    """Load courses from the old JSON files into the database (safe to run twice)."""
    from profai.services.imports import import_json as run_import

    with _container() as ctx:
        for course_id, created in run_import(ctx, path):
            console.print(f"course {course_id}: {'imported' if created else 'already imported'}")


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (a zip)", dir_okay=False)],
    with_audio: Annotated[bool, typer.Option("--with-audio", help="Include the lesson audio cache")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists")] = False,
) -> None:
    """Snapshot the database, vectors and uploads (and audio) into FILE, while the server runs."""
    from profai.services import backup as backups

    with _expected_errors():
        backups.backup(get_settings(), file, with_audio=with_audio, overwrite=force,
                       report=lambda line: console.print(f"  {line}", highlight=False))
    console.print(f"Wrote {file} ({file.stat().st_size / 1024 / 1024:.1f} MB)", highlight=False)


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file made by `profai backup`", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace the data the target already holds")] = False,
) -> None:
    """Restore FILE into this deployment's empty data directory, database and vector store (stop the
    server first)."""
    from profai.services import backup as backups

    with _expected_errors():
        manifest = backups.restore(get_settings(), file, force=force,
                                   report=lambda line: console.print(f"  {line}", highlight=False))
    console.print(f"Restored {file} (made {manifest['created_at']})", highlight=False)


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Remove what it finds; finish unfinished clean-ups")] = False,
    grace: Annotated[float | None, typer.Option(
        help="Leave files modified within this many seconds (default: ORPHAN_GRACE_SECONDS)")] = None,
) -> None:
    """Report vectors and uploaded files that belong to no job or course, and jobs whose clean-up
    has not finished; --fix removes them (the reaper does the same every ORPHAN_SWEEP_SECONDS).
    Exits 1 while something is left."""
    from profai.jobs.sweep import report_lines, sweep

    with _container() as ctx:
        found = sweep(ctx, fix=fix, grace=grace)
        left = sweep(ctx, fix=False, grace=grace) if fix else found
    for line in report_lines(found, fixed=fix):  # ids and keys whole, one a line, whatever the terminal's width
        console.print(line, highlight=False, soft_wrap=True)
    if fix and left.found:
        console.print(f"[yellow]Still left[/yellow] (a store may be down): {left.summary()}", highlight=False)
    elif left.found:
        console.print(f"Found {left.summary()}; `profai doctor --fix` removes them", highlight=False)
    else:
        console.print("Nothing left to clean up.")
    if left.found:
        raise typer.Exit(1)


dataset_app = typer.Typer(help="CSV datasets: rows into a searchable vector index.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("add")
def dataset_add(
    file: Annotated[Path, typer.Argument(help="CSV file", exists=True, dir_okay=False)],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Where the rows go")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column with each row's unique id")],
    text_column: Annotated[list[str] | None, typer.Option("--text-column", help="Column(s) to embed")] = None,
    template: Annotated[str | None, typer.Option("--template", help='e.g. "{title}: {description}"')] = None,
    metadata_column: Annotated[list[str] | None, typer.Option("--metadata-column", help="Column(s) to keep")] = None,
) -> None:
    """Index a CSV file here and now, with a progress bar; lists the rows it could not take."""
    from profai.services import datasets as dataset_service
    from profai.services import jobs as job_service
    from profai.services.uploads import IncomingFile

    with _container("local") as ctx:
        with file.open("rb") as handle:
            job = dataset_service.start_dataset(
                ctx, CLI, IncomingFile(file.name, handle), namespace=namespace, id_column=id_column,
                text_columns=dataset_service.column_list(text_column), text_template=template,
                metadata_columns=dataset_service.column_list(metadata_column))
        _follow(ctx, job.id, job_service.get_job)
        report = dataset_service.task_report(ctx, CLI, job.id, errors_limit=20)
        colour = {"completed": "green", "partially_completed": "yellow"}.get(report.job.status, "red")
        console.print(f"[{colour}]{report.job.status}[/{colour}]: {report.tally.embedded_rows:,} of "
                      f"{report.dataset.total_rows or 0:,} rows indexed in namespace {namespace!r}; "
                      f"{report.failed_rows:,} failed  [dim](task {job.id})[/dim]")
        for e in report.errors:
            console.print(f"  line {e['line']}: {e['code']}: {e['reason']}")
        if report.errors_total > len(report.errors):
            console.print(f"  [dim]... {report.errors_total - len(report.errors)} more[/dim]")
        if report.job.status == "failed":
            raise typer.Exit(1)


@dataset_app.command("search")
def dataset_search(
    namespace: Annotated[str, typer.Argument(help="Namespace to search")],
    text: Annotated[str, typer.Argument(help="What to look for")],
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
) -> None:
    """Rows nearest in meaning to TEXT."""
    from profai.services import datasets as dataset_service

    with _container() as ctx:
        for hit in dataset_service.query(ctx, CLI, namespace, text, top_k):
            console.print(f"{hit['score']:.3f}  [bold]{hit['id']}[/bold]  {hit['text'][:100]}")


admin_app = typer.Typer(help="Accounts, run on the server itself.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option("--email", "-e", help="The admin's email")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="At least 8 characters (asked for when not given)")],
    role: Annotated[str, typer.Option(help="admin, teacher or student")] = "admin",
) -> None:
    """Create an account (the first admin, or any other) without the web app."""
    from profai.services import accounts

    with _container() as ctx:
        user = accounts.create_user(ctx, CLI, email, password, role)
        console.print(f"Created {user.role} {user.email} (user {user.id})")


keys_app = typer.Typer(help="API keys for scripts: shown once, stored hashed.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    email: Annotated[str, typer.Option("--email", "-e", help="Whose key: it acts with their rights")],
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for")] = "cli",
) -> None:
    """Make a key for a user and print it (the only time it is shown)."""
    from profai.services import accounts

    with _container() as ctx:
        key, secret = accounts.create_key(ctx, accounts.principal_for(ctx, email), name)
        console.print(f"Key {key.id} ({key.name}) for {email}:")
        print(secret)


@keys_app.command("list")
def keys_list(email: Annotated[str | None, typer.Option("--email", "-e", help="Only this user's keys")] = None
              ) -> None:
    """Keys by id, owner, name, prefix and state (never the secret)."""
    from profai.services import accounts

    with _container() as ctx:
        who = accounts.principal_for(ctx, email) if email else CLI
        for key in accounts.list_keys(ctx, who):
            state = "revoked" if key.revoked_at else f"last used {key.last_used_at:%Y-%m-%d}" if key.last_used_at \
                else "never used"
            console.print(f"{key.id:>5}  user {key.user_id}  {key.name}  {key.prefix}…  [dim]{state}[/dim]")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `profai keys list`)")]) -> None:
    """Revoke a key: every process stops accepting it within IDENTITY_CACHE_SECONDS."""
    from profai.services import accounts

    with _container() as ctx:
        accounts.revoke_key(ctx, CLI, key_id)
        console.print(f"Revoked key {key_id}")


def main() -> None:
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:  # the settings: say which and why, without a traceback
        for error in exc.errors():
            where = "".join(f"{part}: " for part in error["loc"])  # none for a check of several settings
            console.print(f"[red]settings:[/red] {where}{error['msg'].removeprefix('Value error, ')}",
                          highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
