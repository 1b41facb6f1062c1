"""HTML to PDF with WeasyPrint (BSD): the auditor's dossier is printed here, so the application
layer stays free of the renderer."""

from __future__ import annotations


def pdf_of(html: str) -> bytes:
    from weasyprint import HTML  # deferred: only a dossier needs it

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
