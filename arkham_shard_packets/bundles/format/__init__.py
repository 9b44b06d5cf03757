"""Packet bundles: BagIt archives (zip, tar.gz) and the single-document json format.

`document` defines packet.json, `bag` the BagIt tag files, `writer` and `archives` write
bundles deterministically and as streams, `reader` unpacks untrusted archives safely and
`verify` checks everything a bundle claims. The API, the CLI and the tests all use these.
"""
