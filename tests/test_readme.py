"""README stays true: its configuration table is the one the settings classes generate, and it names the
commands a newcomer needs."""

from __future__ import annotations

from pelanggan import settings_doc


def test_the_configuration_table_is_generated_from_the_current_settings() -> None:
    readme = settings_doc.README.read_text(encoding="utf-8")
    assert settings_doc.readme_block(readme) == settings_doc.render(), (
        "README's configuration table is stale: run `pelanggan settings-doc --write`")


def test_every_setting_explains_itself() -> None:
    assert settings_doc.missing_descriptions() == []


def test_every_service_with_settings_is_in_the_table() -> None:
    table = settings_doc.render()
    for service, cls in settings_doc.service_settings():
        assert f"**{service}**" in table
        assert f"`{cls.model_config['env_prefix']}PORT`" in table
