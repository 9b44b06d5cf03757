"""The client of a running server, for scripts: `arkham-packets push`, `pull`, `ls`, `show`,
`finalize` and `share` call its packets API over HTTP (httpx) and nothing else of the
package."""
