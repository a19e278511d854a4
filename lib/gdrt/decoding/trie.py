"""A token trie over the catalog's response continuations (docs/design.md §4).

Every catalog title is one path: the ids of ``'"Title"'`` tokenised alone, then EOS — exactly
:func:`gdrt.data.prompts.encode_response`, the ids the model is trained on. The trie is stored as
flat tensors (CSR layout) so that a beam-search step finds the allowed tokens of all beams at once:

* ``indptr[n] : indptr[n + 1]`` is the slice of edges leaving node ``n`` (root = node 0);
* ``tokens[e]`` is the token id of edge ``e`` and ``children[e]`` the node it leads to; the edges of a
  node are sorted by token id;
* ``terminal[n]`` is the entry index of a node that ends a path (the node reached by the final EOS),
  ``-1`` elsewhere;
* ``height_min[n]`` / ``height_max[n]``: the fewest / most tokens from ``n`` to the end of a path
  strictly below it (0 at a leaf): exact bounds on how much longer a beam at ``n`` can grow, which the search
  uses to drop beams that can no longer reach the kept results.

An *entry* is one distinct token path. Normally an entry holds exactly one title. If two distinct
titles tokenise to the same ids (impossible with a lossless byte-level BPE, possible with tokenizers
that normalise text), they share one path and one entry: the search returns the entry once, under
its first title (catalog order); :meth:`Trie.aliases` lists all titles of that entry, so a metric can
take the union of their item ids. Explained in chapter 1, "Constrained beam search".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch


class Trie:
    """Token trie over ``{title: token_ids}``; see the module docstring for the layout.

    ``entries[i]`` is the tuple of titles sharing path ``i``; ``sequences[i]`` its ids; ``titles[i]``
    its representative (first) title. ``len(trie)`` is the number of entries.
    """

    excluded_titles: tuple[str, ...] = ()  # titles build_trie left out (empty ones)

    def __init__(self, title_ids: Mapping[str, Sequence[int]], eos_token_id: int | None = None):
        if not title_ids:
            raise ValueError("a trie needs at least one title")
        self.eos_token_id = eos_token_id
        # 1. group titles with identical ids (order of first appearance)
        path2entry: dict[tuple[int, ...], int] = {}
        entries: list[list[str]] = []
        for title, ids in title_ids.items():
            key = tuple(int(i) for i in ids)
            if not key:
                raise ValueError(f"title {title!r} has an empty token sequence")
            if eos_token_id is not None and key[-1] != eos_token_id:
                raise ValueError(f"the ids of title {title!r} do not end with EOS ({eos_token_id})")
            if key in path2entry:
                entries[path2entry[key]].append(title)
            else:
                path2entry[key] = len(entries)
                entries.append([title])
        self.entries: list[tuple[str, ...]] = [tuple(e) for e in entries]
        self.sequences: list[tuple[int, ...]] = list(path2entry)
        self.titles: list[str] = [e[0] for e in self.entries]
        self._title2entry = {t: i for i, e in enumerate(self.entries) for t in e}

        # 2. nested dict trie, then breadth-first numbering into CSR arrays
        root: dict = {}
        ends: dict[int, int] = {}  # id(dict of node) -> entry
        for entry, seq in enumerate(self.sequences):
            node = root
            for tok in seq:
                node = node.setdefault(tok, {})
            ends[id(node)] = entry
        indptr, tokens, children, terminal = [0], [], [], []
        queue, head = [root], 0
        while head < len(queue):
            node = queue[head]
            head += 1
            terminal.append(ends.get(id(node), -1))
            for tok in sorted(node):
                tokens.append(tok)
                children.append(len(queue))
                queue.append(node[tok])
            indptr.append(len(tokens))
        self.indptr = torch.tensor(indptr, dtype=torch.long)
        self.tokens = torch.tensor(tokens, dtype=torch.long)
        self.children = torch.tensor(children, dtype=torch.long)
        self.terminal = torch.tensor(terminal, dtype=torch.long)
        # heights, children before parents (BFS numbers children after their parent)
        n_nodes = len(indptr) - 1
        hmin, hmax = [0] * n_nodes, [0] * n_nodes
        for n in range(n_nodes - 1, -1, -1):
            lo, hi = indptr[n], indptr[n + 1]
            if lo == hi:
                continue
            kids = children[lo:hi]
            hmax[n] = 1 + max(hmax[c] for c in kids)
            # a path end strictly below n: a terminal child costs 1 token, another child 1 + its hmin
            hmin[n] = 1 + min(0 if terminal[c] >= 0 else hmin[c] for c in kids)
        self.height_min = torch.tensor(hmin, dtype=torch.long)
        self.height_max = torch.tensor(hmax, dtype=torch.long)
        self.max_length = max(len(s) for s in self.sequences)
        # python mirrors for cheap per-node queries (HF prefix_allowed_tokens_fn, debugging)
        self._indptr = indptr
        self._tokens = tokens
        self._children = children

    # ----------------------------------------------------------------- queries
    def __len__(self) -> int:
        return len(self.entries)

    @property
    def n_nodes(self) -> int:
        return len(self._indptr) - 1

    def allowed(self, node: int) -> list[int]:
        """Token ids allowed after ``node`` (sorted)."""
        return self._tokens[self._indptr[node] : self._indptr[node + 1]]

    def child(self, node: int, token: int) -> int:
        """The node reached from ``node`` by ``token``; ``-1`` if the token leaves the trie."""
        lo, hi = self._indptr[node], self._indptr[node + 1]
        toks = self._tokens
        while lo < hi:  # binary search: edges are sorted by token id
            mid = (lo + hi) // 2
            if toks[mid] < token:
                lo = mid + 1
            else:
                hi = mid
        if lo < self._indptr[node + 1] and toks[lo] == token:
            return self._children[lo]
        return -1

    def walk(self, ids: Iterable[int], node: int = 0) -> int:
        """The node reached from ``node`` along ``ids``; ``-1`` if they leave the trie."""
        for tok in ids:
            node = self.child(node, int(tok))
            if node < 0:
                return -1
        return node

    def entry_of(self, ids: Sequence[int]) -> int:
        """Entry index of a complete path (``-1`` if ``ids`` is not exactly one catalog path)."""
        node = self.walk(ids)
        return -1 if node < 0 else int(self.terminal[node])

    def aliases(self, title: str) -> tuple[str, ...]:
        """All titles sharing ``title``'s token path (just ``(title,)`` in the usual case)."""
        return self.entries[self._title2entry[title]]

    def to(self, device) -> "Trie":
        """Move the CSR tensors to ``device`` (in place); returns ``self``."""
        for name in ("indptr", "tokens", "children", "terminal", "height_min", "height_max"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __repr__(self) -> str:
        return f"Trie(entries={len(self)}, nodes={self.n_nodes}, edges={len(self._tokens)}, max_length={self.max_length})"


def build_trie(tokenizer, titles: Iterable[str]) -> Trie:
    """Trie over ``titles`` tokenised with :func:`gdrt.data.prompts.encode_response` (``'"Title"'`` + EOS).

    Duplicate titles are counted once; pass ``Catalog.titles`` to get one path per distinct title.
    An empty (or blank) title gets no path: a recommender never writes one (Book's item 5746, see
    :mod:`gdrt.data.derive`); the trie's ``excluded_titles`` lists those left out.
    """
    from gdrt.data.prompts import encode_response

    title_ids, excluded = {}, []
    for t in titles:
        if not t.strip():
            if t not in excluded:
                excluded.append(t)
        elif t not in title_ids:
            title_ids[t] = encode_response(tokenizer, t)
    trie = Trie(title_ids, eos_token_id=tokenizer.eos_token_id)
    trie.excluded_titles = tuple(excluded)
    return trie
