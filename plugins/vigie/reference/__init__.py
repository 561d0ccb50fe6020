"""The reference lists every check measures against: départements, communes, QPV, ZSP, EPCI,
the départements' neighbours, and the pilots directory (who receives which e-mail)."""
