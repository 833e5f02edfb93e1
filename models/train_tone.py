"""Train the tone classifier: the same as ``coach train tone`` (see coach/tone_training.py).

    python models/train_tone.py --data ../shared/data --out models/tone
"""

import sys

from coach.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "tone", *sys.argv[1:]]))
