"""A sandbox fee-payment gateway (hosted payment page), so that online fee payment works on a bare machine.

Never installed in production: settings add it to INSTALLED_APPS only when SANDBOX_GATEWAY_ENABLED (and refuse
to start with it on under MADOGUCHI_PRODUCTION). It speaks the real protocol — a JSON API with a bearer key and
idempotency keys, a hosted page with test cards, HMAC-signed callbacks sent over HTTP — so the platform's
adapter (procedures.payments) is exercised exactly as it would be against a real gateway. It shares no code with
the adapter on purpose: each side implements the protocol, and the tests check one against the other.
"""
