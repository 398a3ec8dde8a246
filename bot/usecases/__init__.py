"""Use cases: what chat routers, pages and operator commands share, below all of them.

Who holds a code and its colour now (holders), a code card's data and reply (cards), recording an entry at a
venue (checkin), picking and showing relatives (relatives), the travel card beside the code (travel), and
the answers several dialogs validate (answers). Pages and the CLI import these, never `handlers/`.
"""
