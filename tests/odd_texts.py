"""Text no classifier may fail on: every one must get a result."""

ODD_TEXTS = [
    "",
    "   ",
    "😡😡😡",
    "🙂",
    "https://example.com/x?y=1",
    "x" * 100_000,
    "Das ist schlecht. " * 6000,  # 100 kB of German
    "bad \ud800 surrogate",
    "\ud800",
    "schlecht \udfff und \ud83d teuer, wirklich sehr enttäuschend",
    "nul\x00byte",
    "\x00\x00",
    "Mijn Brewly werkt geweldig!",
]
