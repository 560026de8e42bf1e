"""Course generators: the interface and the default extractive backend."""

from profai.providers.generator.base import CourseGenerator, ProgressFn
from profai.providers.generator.extractive import ExtractiveGenerator

__all__ = ["CourseGenerator", "ExtractiveGenerator", "ProgressFn"]
