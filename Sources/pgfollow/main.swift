print("pgfollow")
