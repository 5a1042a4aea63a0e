from apps.audit.redact import MASK, redact


def test_secret_keys_are_masked_at_any_depth():
    data = {
        "password": "hunter2",
        "nested": {"Authorization": "Bearer abc.def", "api_key": "k", "apiKey": "x"},
        "list": [{"client_secret": "s"}, {"cookie": "c=1"}],
        "token_name": "laptop",
        "email": "a@b.c",
    }
    out = redact(data)
    assert out["password"] == MASK
    assert out["nested"] == {"Authorization": MASK, "api_key": MASK, "apiKey": MASK}
    assert out["list"] == [{"client_secret": MASK}, {"cookie": MASK}]
    assert out["token_name"] == "laptop"  # metadata about a token is not the token
    assert out["email"] == "a@b.c"


def test_values_that_look_like_credentials_are_masked_under_any_key():
    out = redact(
        {
            "note": "Bearer eyJhbGciOi.eyJzdWIiOi.sig",
            "x": "mcpf_abcdefghijklmnop",
            "y": "sk_live_1234567890abcdef",
            "z": "plain text",
        }
    )
    assert out == {"note": MASK, "x": MASK, "y": MASK, "z": "plain text"}


def test_deep_structures_are_cut_not_crashed():
    deep: dict = {}
    cur = deep
    for _ in range(100):
        cur["a"] = {}
        cur = cur["a"]
    out = redact(deep)
    depth = 0
    while isinstance(out, dict):
        out = out["a"]
        depth += 1
    assert out == "[TRUNCATED]" and depth <= 25
