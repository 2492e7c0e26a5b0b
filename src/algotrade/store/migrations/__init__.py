"""Alembic migrations, shipped inside the package and run by ``Store.open()``.

A package (with ``__init__.py``, as is ``versions``) so that setuptools installs ``env.py`` and
the revisions; Alembic skips ``__init__.py`` files. There is no alembic.ini: the config is built
in code (``algotrade.store.engine.alembic_config``). To add a revision after changing
``models.py``, autogenerate against a database at head, then review the file by hand::

    from alembic import command
    from algotrade.store import Store
    from algotrade.store.engine import alembic_config, parse_url

    url = "sqlite:///tmp/schema.db"
    Store(url).open()
    command.revision(alembic_config(parse_url(url)), "what changed", autogenerate=True,
                     rev_id="0004")
"""
