"""Rules across rows that CHECK constraints cannot express (issue 15).

1. Caption review: a content's caption (or hashtags) changed by a statement
   that does not itself set caption_status goes back to 'pending'; no caption
   means 'none'. So text written or changed after approval, by any path (the
   admin, the API, a text job, plain SQL), needs approval again.
2. Adult-only: a personality that flirts, NSFW content and NSFW generation
   jobs need a character whose age is known and at least 18; a character that
   has any of them cannot have its age lowered below 18 or cleared. The row
   check reads the character FOR SHARE, so it waits for a concurrent change
   of the age and sees its result.
"""

from django.db import migrations

from config.migration_sql import updated_at_trigger

CAPTION_REVIEW = """
CREATE FUNCTION content_caption_review() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(NEW.caption, '') = '' THEN
        NEW.caption_status := 'none';
    ELSIF TG_OP = 'INSERT' THEN
        IF NEW.caption_status = 'none' THEN
            NEW.caption_status := 'pending';
        END IF;
    ELSIF (NEW.caption IS DISTINCT FROM OLD.caption
           OR NEW.hashtags IS DISTINCT FROM OLD.hashtags)
          AND NEW.caption_status = OLD.caption_status THEN
        -- the text changed and the statement did not review it
        NEW.caption_status := 'pending';
    ELSIF NEW.caption_status = 'none' THEN
        NEW.caption_status := 'pending';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER content_caption_review BEFORE INSERT OR UPDATE ON content
    FOR EACH ROW EXECUTE FUNCTION content_caption_review();
"""

ADULT_ONLY = """
CREATE FUNCTION adult_only_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    character_age integer;
BEGIN
    IF TG_TABLE_NAME = 'character_personalities' THEN
        IF NEW.flirtatiousness_level = 0
           AND coalesce(NEW.flirting_style, '') = '' THEN
            RETURN NEW;
        END IF;
    ELSIF NOT NEW.is_nsfw THEN
        RETURN NEW;
    END IF;
    SELECT age INTO character_age FROM characters
        WHERE id = NEW.character_id FOR SHARE;
    IF character_age IS NULL OR character_age < 18 THEN
        RAISE EXCEPTION
            'adult-only: % of character % needs an age of 18 or more (it is %)',
            TG_TABLE_NAME, NEW.character_id, coalesce(character_age::text, 'not set')
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = TG_TABLE_NAME || '_adult_only_check';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION adult_only_character() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.age IS NOT NULL AND NEW.age >= 18 THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM character_personalities
               WHERE character_id = NEW.id
                 AND (flirtatiousness_level > 0
                      OR coalesce(flirting_style, '') <> ''))
       OR EXISTS (SELECT 1 FROM content
                  WHERE character_id = NEW.id AND is_nsfw)
       OR EXISTS (SELECT 1 FROM content_generations
                  WHERE character_id = NEW.id AND is_nsfw) THEN
        RAISE EXCEPTION
            'adult-only: character % has adult-only settings; its age must stay 18 or more',
            NEW.id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'characters_adult_only_check';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER character_personalities_adult_only
    BEFORE INSERT OR UPDATE OF flirtatiousness_level, flirting_style, character_id
    ON character_personalities
    FOR EACH ROW EXECUTE FUNCTION adult_only_row();
CREATE TRIGGER content_adult_only
    BEFORE INSERT OR UPDATE OF is_nsfw, character_id ON content
    FOR EACH ROW EXECUTE FUNCTION adult_only_row();
CREATE TRIGGER content_generations_adult_only
    BEFORE INSERT OR UPDATE OF is_nsfw, character_id ON content_generations
    FOR EACH ROW EXECUTE FUNCTION adult_only_row();
CREATE TRIGGER characters_adult_only
    BEFORE UPDATE OF age ON characters
    FOR EACH ROW WHEN (NEW.age IS DISTINCT FROM OLD.age)
    EXECUTE FUNCTION adult_only_character();
"""

DROP_ADULT_ONLY = """
DROP TRIGGER IF EXISTS characters_adult_only ON characters;
DROP TRIGGER IF EXISTS content_generations_adult_only ON content_generations;
DROP TRIGGER IF EXISTS content_adult_only ON content;
DROP TRIGGER IF EXISTS character_personalities_adult_only ON character_personalities;
DROP FUNCTION IF EXISTS adult_only_character();
DROP FUNCTION IF EXISTS adult_only_row();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("characters", "0004_purge_permission"),
        ("content", "0005_text_generations_and_captions"),
    ]

    operations = [
        updated_at_trigger("text_generations"),
        migrations.RunSQL(
            CAPTION_REVIEW,
            "DROP TRIGGER IF EXISTS content_caption_review ON content;"
            "DROP FUNCTION IF EXISTS content_caption_review();",
        ),
        migrations.RunSQL(ADULT_ONLY, DROP_ADULT_ONLY),
    ]
