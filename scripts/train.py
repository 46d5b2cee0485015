"""The training script: the same as `tagger train`, usable with a config file.

python scripts/train.py --train corpora/sample/train.tsv --output runs/sample --config my.json
"""

import sys

from tagger.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
