"""The built-in model's cache folder is keyed by content: the corpus text and the recipe's
settings, not its comments."""
import align.data.builtin as data
from align.models import builtin


def _key(monkeypatch, recipe_text=None, corpus=None, tmp_path=None) -> str:
    builtin._content_key.cache_clear()
    if recipe_text is not None:
        path = tmp_path / "tiny_base.yaml"
        path.write_text(recipe_text)
        monkeypatch.setattr(builtin, "BASE_RECIPE", path)
    if corpus is not None:
        monkeypatch.setattr(data, "load_builtin", lambda name, split: [{"text": t} for t in corpus[split]])
    try:
        return builtin._content_key()
    finally:
        builtin._content_key.cache_clear()


def test_key_ignores_recipe_comments_but_not_settings(monkeypatch, tmp_path):
    text = builtin.BASE_RECIPE.read_text()
    base = _key(monkeypatch)
    assert _key(monkeypatch, recipe_text="# a new comment\n" + text, tmp_path=tmp_path) == base
    changed = text.replace("lr: 3.0e-3", "lr: 2.0e-3")
    assert changed != text
    assert _key(monkeypatch, recipe_text=changed, tmp_path=tmp_path) != base


def test_key_follows_the_corpus_text(monkeypatch):
    a = _key(monkeypatch, corpus={"train": ["one doc", "two"], "test": ["held"]})
    assert _key(monkeypatch, corpus={"train": ["one doc", "two"], "test": ["held"]}) == a
    assert _key(monkeypatch, corpus={"train": ["one doc", "two!"], "test": ["held"]}) != a
    # document boundaries count: the same characters split differently are another corpus
    assert _key(monkeypatch, corpus={"train": ["one doctwo"], "test": ["held"]}) != a
