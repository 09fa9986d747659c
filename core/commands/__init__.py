"""Commands that talk to an exchange (``doctor``, ``stream``): each module exposes ``add_arguments(parser)``
and ``run(args) -> int``; :mod:`core.commands.venue` holds their shared ``--venue`` / ``--url`` handling."""
