package sudohelper

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// DemoteToUser switches the whole process (every thread) to the named
// user and its primary group, dropping supplementary groups, after
// checking the uid is the one expected (so a tampered passwd entry cannot
// redirect a root helper). Call it before touching any state. It is a
// one-way step: there is no way back to root.
func DemoteToUser(name string, wantUID int) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("user %s has a non-numeric uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("user %s has a non-numeric gid %q", name, u.Gid)
	}
	if uid != wantUID {
		return fmt.Errorf("user %s has uid %d, expected %d; refusing to demote", name, uid, wantUID)
	}
	return Demote(uid, gid)
}

// Demote drops supplementary groups, then sets gid, then uid (in that
// order: after setuid the process could no longer change its groups), and
// verifies the result.
func Demote(uid, gid int) error {
	if uid == 0 || gid == 0 {
		return fmt.Errorf("refusing to demote to uid %d gid %d", uid, gid)
	}
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("drop supplementary groups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if syscall.Geteuid() != uid || syscall.Getegid() != gid {
		return fmt.Errorf("demotion to %d:%d did not take effect", uid, gid)
	}
	syscall.Umask(0o077)
	return nil
}
