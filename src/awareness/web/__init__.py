"""The web app (shell): the librarians' review pages, driver-record pages for staff, and the
one-click unsubscribe endpoint. Views are thin; see ``app.create_app`` and docs/web.md."""
