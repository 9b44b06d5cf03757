"""Packet bundles: BagIt archives (zip, tar.gz) and the single-document json format.

`document` defines packet.json, `bag` the BagIt tag files, `writer` and `archives` write
bundles deterministically and as streams, `reader` unpacks untrusted archives safely (its
parts: `entries`, `budget`, `extraction`, `zip_reader`, `tar_reader`) and `verify` checks
everything a bundle claims; `seal_file` and `custody_file` are the tag files of the chain of
custody, which `evidence` reads and checks. The API, the CLI and the tests all use these.
"""
