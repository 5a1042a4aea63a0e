"""The token bill is counted with a real tokenizer whose vocabulary ships in the package."""

import subprocess
import sys
from pathlib import Path

import pytest

from apps.inventory.tokens import count_text, definition_tokens, listing_tokens

ROOT = Path(__file__).resolve().parents[2]


def test_counts_are_real_bpe_tokens_not_characters_over_four():
    # o200k_base: "hello world" is two tokens; 44 characters of one repeated word are far fewer than 11
    assert count_text("hello world") == 2
    assert count_text("") == 0
    assert count_text("tokenizer " * 40) < 100
    entry = {"name": "a", "description": "Hi", "inputSchema": {"type": "object"}}
    assert definition_tokens(entry) == count_text('{"name":"a","description":"Hi","inputSchema":{"type":"object"}}')
    assert listing_tokens([]) == count_text('{"tools":[]}')


def test_special_token_text_in_a_spec_is_counted_as_text():
    assert count_text("<|endoftext|>") > 1


@pytest.mark.skipif(not Path("/usr/bin/unshare").exists(), reason="needs util-linux unshare")
def test_the_vocabulary_loads_with_no_network_at_all():
    """A new network namespace has no interface but loopback: any download would fail."""
    code = "from apps.inventory.tokens import count_text; print(count_text('hello world'))"
    probe = subprocess.run(["/usr/bin/unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user namespaces are not available here")
    done = subprocess.run(
        ["/usr/bin/unshare", "-rn", sys.executable, "-c", code],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_counts_agree_with_the_packages_encoding():
    """The Rust extension loaded alone counts exactly as bpe_openai's Encoding.encode_ordinary."""
    from apps.inventory import tokens

    package = tokens._package_counter()
    texts = ["hello world", '{"tools":[]}', "x" * 5000, "ünïcödé 日本語 😀 ٥٠٠٠ ５０００", " \n\t  a  b\r\n",
             "<|endoftext|><|endofprompt|>", "lone \ud800 surrogate", (ROOT / "README.md").read_text()]
    for text in texts:
        clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        assert tokens.count_text(text) == package(clean), text[:40]
    with pytest.raises(ValueError):
        tokens.count_text("a" * tokens.MAX_TEXT_CHARS)


def test_first_count_loads_one_vocabulary_not_the_package():
    """Importing the bpe_openai package decodes three vocabularies (~0.85 s CPU); the counter
    loads only the extension, so the package stays unimported and the first count is cheap."""
    code = ("import sys; from apps.inventory.tokens import count_text; "
            "print(count_text('hello world'), 'bpe_openai' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "False"]
