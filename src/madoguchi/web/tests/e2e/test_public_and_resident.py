"""The public pages and the resident sign-in in a real browser (phone-sized, Japanese), checked with axe-core."""

import re

import pytest
from playwright.sync_api import expect

from madoguchi.identity.demo import DEMO_CARD_PIN

pytestmark = pytest.mark.e2e


def test_home_passes_axe(page, axe_check, public_bodies):
    page.goto("/")

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", level=1)).to_have_text("あなたのまちをさがす")
    axe_check(page)


def test_municipality_page_passes_axe(page, axe_check, public_bodies):
    page.goto("/131016/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("千代田区")
    axe_check(page)


def test_resident_signs_in_with_a_demo_card(page, axe_check, public_bodies, jpki):
    page.goto("/sign-in/")
    axe_check(page)

    page.get_by_label("デモ用カード").select_option("yamada")
    page.get_by_label("暗証番号（数字4桁）").fill(DEMO_CARD_PIN)
    page.get_by_role("button", name="ログイン", exact=True).click()

    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("マイページ")
    expect(
        page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="マイページ")
    ).to_have_attribute("aria-current", "page")
    axe_check(page)


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, public_bodies):
    page.goto("/")

    page.keyboard.press("Tab")
    skip_link = page.locator("a.skip-link")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_have_attribute("href", "#main")
    expect(skip_link).to_be_in_viewport()

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#main$"))
