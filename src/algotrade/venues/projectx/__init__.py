"""ProjectX Gateway API (TopstepX and other firms' futures accounts): REST + SignalR hubs."""
