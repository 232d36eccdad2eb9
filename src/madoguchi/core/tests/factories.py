import factory

from madoguchi.core.codes import local_government_check_digit
from madoguchi.core.models import Municipality, Prefecture
from madoguchi.core.public_bodies import PREFECTURE_NAMES_EN, normalize_for_search

_PREFECTURES = ["北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
                "埼玉県", "千葉県", "東京都", "神奈川県"]  # fmt: skip


def lg_code(base5: str) -> str:
    return base5 + local_government_check_digit(base5)


class PrefectureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prefecture
        django_get_or_create = ("number",)

    number = factory.Sequence(lambda n: n % len(_PREFECTURES) + 1)
    code = factory.LazyAttribute(lambda o: lg_code(f"{o.number:02d}000"))
    name = factory.LazyAttribute(lambda o: _PREFECTURES[o.number - 1])
    kana = "テスト"
    name_en = factory.LazyAttribute(lambda o: PREFECTURE_NAMES_EN[o.number - 1])


class MunicipalityFactory(factory.django.DjangoModelFactory):
    """Test municipalities use codes NN9xx, a range the real list does not use."""

    class Meta:
        model = Municipality
        django_get_or_create = ("code",)

    prefecture = factory.SubFactory(PrefectureFactory, number=13)
    code = factory.LazyAttributeSequence(lambda o, n: lg_code(f"{o.prefecture.number:02d}9{n % 100:02d}"))
    name = factory.Sequence(lambda n: f"テスト{n}市")
    kana = factory.Sequence(lambda n: f"テスト{n}シ")
    kind = Municipality.Kind.CITY
    population = 100_000
    search_text = factory.LazyAttribute(lambda o: normalize_for_search(f"{o.name} {o.kana} {o.code}"))
