import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from madoguchi.sandboxgateway.services import TEST_CARD_DECLINED, TEST_CARD_SUCCEEDS

CARD_CHARACTERS = re.compile(r"^[0-9 \-]+$")


class CardForm(forms.Form):
    """The hosted page's card form. Only the two test cards are accepted; any other number is a form error."""

    card_number = forms.CharField(
        label=_("Card number"),
        max_length=40,
        help_text=_(
            "This is a sandbox: use a test card. 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined."
        ),
        error_messages={"required": _("Enter the card number.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "cc-number",
                "inputmode": "numeric",
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
    )

    def clean_card_number(self) -> str:
        value = self.cleaned_data["card_number"].strip()
        if not CARD_CHARACTERS.match(value):
            raise ValidationError(
                _("Enter the card number in digits (spaces and hyphens may separate them)."), code="format"
            )
        digits = re.sub(r"[ \-]", "", value)
        if digits not in (TEST_CARD_SUCCEEDS, TEST_CARD_DECLINED):
            raise ValidationError(
                _(
                    "This card cannot be used here. Use a test card: 4242 4242 4242 4242 or 4000 0000 0000 0002."
                ),
                code="not_a_test_card",
            )
        return digits
