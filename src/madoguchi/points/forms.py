"""Forms of the マイナポイント pages: the application (resident and desk) and the provider's CSV upload."""

import csv
import io
import unicodedata
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.points import services
from madoguchi.points.models import Mode, PaymentProvider
from madoguchi.points.services import ApplicationRequest, PointsError

# A refusal from points.services, shown on the field it is about (the field include marks it invalid).
REFUSAL_FIELDS = {
    "account_required": "service_account",
    "account_mismatch": "service_account_confirm",
    "account_taken": "service_account",
    "security_code_required": "security_code",
    "provider_not_eligible": "provider",
    "mode_not_eligible": "mode",
    "representative_account": "service_account",
}


def _normalize_id(value: str) -> str:
    """IDs typed with a Japanese input method often come in full width (ＡＢＣ１２３): NFKC makes them ASCII."""
    return unicodedata.normalize("NFKC", value or "").strip()


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PaymentProvider) -> str:
        modes = " / ".join(str(label) for value, label in Mode.choices if value in (obj.modes or []))
        return _("%(name)s (%(type)s) — %(modes)s") % {
            "name": obj.name,
            "type": obj.get_type_display(),
            "modes": modes,
        }


class ApplicationForm(forms.Form):
    """申込み: ONE payment service, ONE mode, the 決済サービスID twice and the security code."""

    provider = ProviderChoiceField(
        queryset=PaymentProvider.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        label=gettext_lazy("Payment service"),
        help_text=gettext_lazy("Choose one. Points are given as this service's own points."),
    )
    mode = forms.ChoiceField(
        widget=forms.RadioSelect,
        label=gettext_lazy("How you earn points"),
        help_text=gettext_lazy(
            "Charge: points for adding money (前払い). Purchase: points for paying in shops."
        ),
    )
    service_account = forms.CharField(
        max_length=64,
        label=gettext_lazy("Payment service ID (決済サービスID)"),
        help_text=gettext_lazy("The ID shown in the payment service's app or on its card."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    service_account_confirm = forms.CharField(
        max_length=64,
        label=gettext_lazy("Payment service ID again"),
        help_text=gettext_lazy("Type the ID once more to check it. Do not copy and paste it."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    security_code = forms.CharField(
        max_length=32,
        label=gettext_lazy("Security code"),
        help_text=gettext_lazy("The security code that the payment service gave you."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )
    acknowledge = forms.BooleanField(
        label=gettext_lazy(
            "I understand that the payment service and the mode cannot be changed after applying."
        ),
        error_messages={
            "required": gettext_lazy("Tick this box to confirm that you understand the choice is final.")
        },
    )

    def __init__(self, *args, providers, modes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        self.fields["mode"].choices = modes

    def clean_service_account(self) -> str:
        return _normalize_id(self.cleaned_data["service_account"])

    def clean_service_account_confirm(self) -> str:
        return _normalize_id(self.cleaned_data["service_account_confirm"])

    def clean(self):
        cleaned = super().clean()
        account, again = cleaned.get("service_account"), cleaned.get("service_account_confirm")
        if account and again and account != again:
            self.add_error(
                "service_account_confirm", _("The two payment service IDs you entered do not match.")
            )
        provider, mode = cleaned.get("provider"), cleaned.get("mode")
        if provider is not None and mode and mode not in (provider.modes or []):
            self.add_error("mode", _("This payment service does not offer that mode in the campaign."))
        return cleaned

    def application_request(self) -> ApplicationRequest:
        data = self.cleaned_data
        return ApplicationRequest(
            provider=data["provider"],
            mode=data["mode"],
            service_account=data["service_account"],
            service_account_confirm=data["service_account_confirm"],
            security_code=data["security_code"],
        )

    def pending_data(self) -> dict:
        """The cleaned entries as form data, to re-bind the same form later (the desk's confirmation step)."""
        data = self.cleaned_data
        return {
            "provider": str(data["provider"].pk),
            "mode": data["mode"],
            "service_account": data["service_account"],
            "service_account_confirm": data["service_account_confirm"],
            "security_code": data["security_code"],
            "acknowledge": "on",
        }

    def add_refusal(self, exc: PointsError) -> None:
        """Show a refusal of points.services on the form: on its field when it is about one."""
        if exc.code == "account_not_confirmed":
            # The provider does not say which of the two was wrong: mark both.
            self.add_error(None, exc.message)
            self.add_error("service_account", _("Check that this ID is correct."))
            self.add_error("security_code", _("Check that the security code is correct."))
            return
        self.add_error(REFUSAL_FIELDS.get(exc.code), exc.message)


class ChildCardForm(forms.Form):
    """The child's card, presented by the legal representative (development: a demo card of the simulator).

    The PIN answers a sign-in challenge with the child's user-authentication certificate; the signing password
    (set by the legal representative) signs the statement whose certificate gives the child's date of birth.
    Neither is kept. With a real card reader, its client does both and posts the results instead."""

    card = forms.ChoiceField(
        label=gettext_lazy("The child's card (demo card)"),
        help_text=gettext_lazy("Choose the demo card that stands for your child's My Number Card."),
    )
    pin = forms.CharField(
        max_length=4,
        label=gettext_lazy("The child's 4-digit PIN"),
        help_text=gettext_lazy(
            "The PIN of the child's user-authentication certificate. Demo cards use 1234."
        ),
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "pattern": "[0-9]{4}"}, render_value=False
        ),
    )
    password = forms.CharField(
        max_length=16,
        label=gettext_lazy("The password of the child's signing certificate"),
        help_text=gettext_lazy(
            "6 to 16 letters and digits, set by the legal representative. The child's card signs with it, and "
            "its certificate shows the date of birth. Demo cards use abc123."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )
    declaration = forms.BooleanField(
        label=gettext_lazy(
            "I am this child's legal representative (a person with parental authority or a guardian)."
        ),
        error_messages={
            "required": gettext_lazy("Only the child's legal representative can apply for the child.")
        },
    )

    def __init__(self, *args, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].choices = [(c.key, c.label) for c in cards]

    def add_refusal(self, code: str, message: str) -> None:
        field = {"wrong_pin": "pin", "pin_locked": "pin", "invalid_pin_format": "pin",
                 "wrong_password": "password", "password_locked": "password",
                 "invalid_password_format": "password", "child_signature_refused": "password",
                 "unknown_card": "card", "child_is_representative": "card", "child_not_under_15": "card",
                 "child_card_mismatch": "card"}.get(code)  # fmt: skip
        self.add_error(field, message)


# --- Provider CSV upload -----------------------------------------------------------------------------------
MAX_ROWS = services.MAX_ITEMS
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
TRANSACTIONS, REFUNDS = "transactions", "refunds"
COLUMNS = {
    TRANSACTIONS: ["id", "account", "kind", "amount", "occurred_at"],
    REFUNDS: ["id", "original_id", "amount"],
}


@dataclass
class UploadRow:
    """One data line of the file: the item for points.services, or what is wrong with the line."""

    line: int
    item: dict | None
    problem: str = ""
    id: str = ""


def amount_from_text(value: str | None) -> int | str:
    """An amount as a provider's file writes it, read the same way by `madoguchi points ingest` and by the
    upload page, so that one row has one content (and fingerprint) whichever way it came: a whole number in
    decimal digits (ASCII or full-width, an optional leading minus) becomes an int; anything else stays the
    text it was, which points.services answers `invalid`. `str.isdecimal` and not `isdigit`: "²" and "①"
    are digits to Python but int() refuses them."""
    text = (value or "").strip()
    if text.removeprefix("-").isdecimal():
        try:
            return int(text)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            return text
    return text


def _decode(raw: bytes) -> str | None:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


class ProviderUploadForm(forms.Form):
    api_key = forms.CharField(
        max_length=200,
        label=gettext_lazy("API key"),
        help_text=gettext_lazy(
            "The key issued to your company (it begins with mpk_). Enter it for every upload; it is not kept."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}, render_value=False),
    )
    kind = forms.ChoiceField(
        widget=forms.RadioSelect,
        label=gettext_lazy("What the file holds"),
        choices=[
            (TRANSACTIONS, gettext_lazy("Charges and purchases: id, account, kind, amount, occurred_at")),
            (REFUNDS, gettext_lazy("Refunds: id, original_id, amount")),
        ],
        initial=TRANSACTIONS,
    )
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8 (or Shift_JIS) with a header line, at most 10,000 rows. "
            "Larger files go through the command “madoguchi points ingest”."
        ),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )

    provider: PaymentProvider | None = None

    def clean_api_key(self) -> str:
        key = self.cleaned_data["api_key"].strip()
        self.provider = services.provider_for_key(key)
        if self.provider is None:
            raise forms.ValidationError(_("This API key is not valid, or it has been revoked."))
        return key

    def clean(self):
        cleaned = super().clean()
        upload, kind = cleaned.get("file"), cleaned.get("kind")
        if upload is None or kind not in COLUMNS:
            return cleaned
        if upload.size > MAX_UPLOAD_BYTES:
            self.add_error("file", _("The file is larger than 5 MB. Upload at most 10,000 rows at a time."))
            return cleaned
        text = _decode(upload.read())
        if text is None:
            self.add_error("file", _("The file could not be read: save it as CSV in UTF-8 (or Shift_JIS)."))
            return cleaned
        try:
            cleaned["rows"] = self._rows(text, COLUMNS[kind])
        except forms.ValidationError as error:
            self.add_error("file", error)
        return cleaned

    @staticmethod
    def _rows(text: str, columns: list[str]) -> list[UploadRow]:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            header = reader.fieldnames
            if header is None:
                raise forms.ValidationError(_("The file is empty."))
            reader.fieldnames = [(name or "").strip().lower() for name in header]
            if not set(columns) <= set(reader.fieldnames):
                raise forms.ValidationError(
                    _("The header line must name the columns %(columns)s.") % {"columns": ",".join(columns)}
                )
            rows: list[UploadRow] = []
            for record in reader:
                if len(rows) == MAX_ROWS:
                    total = MAX_ROWS + 1 + sum(1 for _record in reader)
                    raise forms.ValidationError(
                        _(
                            "The file has %(count)s rows; at most %(limit)s can be uploaded here. "
                            "Split it, or ask the platform operator to run “madoguchi points ingest”."
                        )
                        % {"count": f"{total:,}", "limit": f"{MAX_ROWS:,}"}
                    )
                rows.append(_row(reader.line_num, record, columns))
        except csv.Error as exc:
            raise forms.ValidationError(
                _("The file is not valid CSV (line %(line)s: %(error)s).")
                % {"line": reader.line_num, "error": exc}
            ) from None
        if not rows:
            raise forms.ValidationError(_("The file has no rows after the header line."))
        return rows


def _row(line: int, record: dict, columns: list[str]) -> UploadRow:
    item_id = (record.get("id") or "").strip()[:64]
    if record.get(None):
        return UploadRow(line, None, _("This line has more fields than the header line."), item_id)
    missing = [c for c in columns if record.get(c) is None]
    if missing:
        problem = _("This line has no value for %(columns)s.") % {"columns": ", ".join(missing)}
        return UploadRow(line, None, problem, item_id)
    item = {c: amount_from_text(record[c]) if c == "amount" else record[c].strip() for c in columns}
    return UploadRow(line, item)
