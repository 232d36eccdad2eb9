class LocalGovernmentCodeConverter:
    """Six digits; the check digit is verified by TenantMiddleware so that a wrong one gets a helpful 404."""

    regex = "[0-9]{6}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)
