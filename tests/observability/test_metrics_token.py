"""METRICS_TOKEN's limits, without a server: an empty value means no token (so no bearer token
passes for it), a short one is refused at start-up; a request id's bounds match the job column
it is stored in."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from profai.db.models import Job
from profai.observability import logs
from support import make_settings


def test_an_empty_metrics_token_means_none(tmp_path):
    assert make_settings(tmp_path, METRICS_TOKEN="").metrics_token is None
    assert make_settings(tmp_path, METRICS_TOKEN="x" * 16).metrics_token == "x" * 16


@pytest.mark.parametrize("token", ["short", "x" * 15])
def test_a_guessable_metrics_token_is_refused(tmp_path, token):
    with pytest.raises(ValidationError, match="METRICS_TOKEN"):
        make_settings(tmp_path, METRICS_TOKEN=token)


def test_the_longest_request_id_fits_the_job_row():
    assert Job.__table__.c.request_id.type.length >= logs.MAX_REQUEST_ID
