"""Django's database session engines (`db`, and `cached_db` with Redis in front), each
session write one statement (issue 17).

Django's own engines ask the database four statements to open a session (is this new key
free? BEGIN, INSERT, COMMIT), write an empty row when the key is cycled at sign-in and the
data in a second statement at the end of the request, and read a row before deleting it.
These write the same rows with the same keys, in one statement each:

- a new key is not looked up first: 32 characters of 36 are 165 random bits, and the
  INSERT's primary key refuses a collision anyway (a new key is drawn then);
- `cycle_key()` draws the new key at once (callers read it) and the request's one save
  moves the old row to it with its data, one UPDATE (an INSERT when there was no row):
  Django's deletes the old row at once and INSERTs the new one;
- a write is one statement, its own transaction (autocommit), without Django's BEGIN and
  COMMIT (or savepoint) around it;
- `delete()` is one DELETE;
- the sign-in's steps save the session under its new key in their own transaction (`save_now`), on
  PostgreSQL in one statement with the step's other writes (`deskgate.rows.waiting`; a
  cycled key's old row deleted and the new one inserted there), and the response's save
  then writes nothing unless the request changed the session since.

Every security property is Django's: the keys, their rotation at sign-in, the expiry, the
signed and serialised data. Only the synchronous methods are changed: Deskgate is served
over WSGI, and Django's async ones (`acycle_key`, `asave`) keep their own behaviour.
"""
