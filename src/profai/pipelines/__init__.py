"""Pipelines: plain functions of their inputs, the providers and stores they need and a progress
reporter (pdf_to_course, csv_to_vectors). They know nothing of jobs; jobs/ runs them."""
