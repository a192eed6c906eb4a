"""Certificates rendered as PDF with fpdf2 (a Unicode TTF font when one is configured)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from echo_attendance.domain.certificate import Certificate

DEFAULT_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)


class FpdfCertificateRenderer:
    """Renders a certificate of attendance and CME/CPD credit."""

    def __init__(self, font_path: str | None = None) -> None:
        candidates = [Path(font_path)] if font_path else list(DEFAULT_FONTS)
        self.font = next((p for p in candidates if p.is_file()), None)

    def _text(self, value: str) -> str:
        if self.font is not None:
            return value
        # The core fonts only know Latin-1.
        return value.encode("latin-1", "replace").decode("latin-1")

    def render(self, cert: Certificate) -> bytes:
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_title(self._text(f"Certificate {cert.verification_code}"))
        pdf.set_creator("ECHO attendance")
        pdf.add_page()
        family = "Helvetica"
        if self.font is not None:
            pdf.add_font("Cert", "", str(self.font))
            family = "Cert"
        text = self._text
        pdf.set_font(family, size=22)
        pdf.cell(
            0, 14, text("Certificate of Participation"), new_x="LMARGIN", new_y="NEXT", align="C"
        )
        pdf.set_font(family, size=12)
        pdf.ln(4)
        pdf.cell(0, 8, text("This certifies that"), new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font(family, size=18)
        pdf.cell(0, 11, text(cert.participant_name), new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font(family, size=11)
        pdf.cell(
            0,
            7,
            text(f"{cert.profession.replace('_', ' ')}, {cert.clinic}"),
            new_x="LMARGIN",
            new_y="NEXT",
            align="C",
        )
        pdf.ln(3)
        pdf.cell(
            0,
            7,
            text("participated in the teleECHO programme"),
            new_x="LMARGIN",
            new_y="NEXT",
            align="C",
        )
        pdf.set_font(family, size=14)
        pdf.cell(0, 9, text(cert.programme_title), new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font(family, size=12)
        pdf.cell(
            0,
            9,
            text(f"and earned {_hours(cert.hours)} credit hours"),
            new_x="LMARGIN",
            new_y="NEXT",
            align="C",
        )
        pdf.ln(5)
        pdf.set_font(family, size=10)
        widths = (70, 50, 40)
        for label, width in zip(
            ("Session (UTC)", "Attended (minutes)", "Hours"), widths, strict=True
        ):
            pdf.cell(width, 7, text(label), border=1)
        pdf.ln()
        for line in cert.lines:
            attended = f"{line.attended_seconds // 60}" + (" (adjusted)" if line.adjusted else "")
            cells = (line.starts_at.strftime("%Y-%m-%d %H:%M"), attended, _hours(line.hours))
            for value, width in zip(cells, widths, strict=True):
                pdf.cell(width, 7, text(value), border=1)
            pdf.ln()
        pdf.cell(widths[0] + widths[1], 7, text("Total"), border=1)
        pdf.cell(widths[2], 7, text(_hours(cert.hours)), border=1)
        pdf.ln(12)
        pdf.multi_cell(0, 5, text(cert.accreditation_statement))
        pdf.ln(4)
        pdf.cell(
            0,
            6,
            text(f"Issued {cert.issued_at.strftime('%Y-%m-%d')}  ·  Certificate {cert.id}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.cell(
            0,
            6,
            text(f"Verification code: {cert.verification_code}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        return bytes(pdf.output())


def _hours(value: object) -> str:
    return f"{float(str(value)):.2f}"
