"""Every factory builds a row the database and model validation accept."""

import pytest

from tests import factories

FACTORIES = [
    getattr(factories, name) for name in factories.__all__ if name != "UserFactory"
]


@pytest.mark.django_db
@pytest.mark.parametrize("factory_class", FACTORIES, ids=lambda f: f.__name__)
def test_factory_makes_valid_rows(factory_class):
    rows = factory_class.create_batch(3)
    for row in rows:
        row.refresh_from_db()
        row.full_clean()
    assert (
        factory_class._meta.model._base_manager.filter(
            pk__in=[r.pk for r in rows]
        ).count()
        == 3
    )


@pytest.mark.django_db
def test_character_factory_creates_personality_and_appearance():
    character = factories.CharacterFactory()
    assert character.personality.character_id == character.pk
    assert character.appearance.character_id == character.pk


@pytest.mark.django_db
def test_character_wide_analytics_row():
    row = factories.AnalyticsFactory(character_wide=True)
    assert row.platform_account_id is None and row.platform is None
