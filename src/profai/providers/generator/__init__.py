"""Course generators: the interface and the default extractive backend."""

from profai.providers.generator.base import CourseDraft, CourseGenerator, LessonDraft, ModuleDraft, ProgressFn
from profai.providers.generator.extractive import ExtractiveGenerator

__all__ = ["CourseDraft", "CourseGenerator", "ExtractiveGenerator", "LessonDraft", "ModuleDraft", "ProgressFn"]
