// The direct (TCP / Unix socket) transport registers here once it exists; see issue 3.
export {};
