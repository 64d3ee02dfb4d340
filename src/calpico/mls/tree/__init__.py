"""RFC 9420 §4, §7 and Appendix C — the ratchet tree.

Modules, one per concern (import them directly; this package re-exports
nothing, so that the wire structs can import `nodes` without pulling in the
tree logic):

- `treemath`: array index arithmetic (Appendix C).
- `nodes`: LeafNode, ParentNode and the ``ratchet_tree`` wire struct (§7.1, §7.2, §12.4.3.3).
- `ratchet_tree`: `RatchetTree`, the mutable, cached public tree (§4, §7.7, §7.8).
- `hashes`: tree-hash and parent-hash inputs (§7.8, §7.9).
- `validation`: leaf validation (§7.3), parent-hash validity (§7.9.2), whole-tree checks on join (§12.4.3.1).
- `private_tree`: `PrivateTree`, the private keys one member holds (§4.3).
- `treekem`: creating, merging and decrypting UpdatePaths (§7.4–§7.6).
"""
