"""Demo data of core (the public bodies), and the DemoSignIn record that every app's demo returns."""

from dataclasses import dataclass

from madoguchi.core.public_bodies import public_bodies_load


@dataclass(frozen=True)
class DemoSignIn:
    where: str
    username: str
    password: str
    note: str


def load_demo(*, stdout) -> list[DemoSignIn]:
    result = public_bodies_load()
    stdout.write(
        f"Public bodies: {result.prefectures} prefectures, {result.municipalities} municipalities, "
        f"population {result.population:,}."
    )
    return []
