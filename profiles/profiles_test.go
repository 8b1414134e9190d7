package profiles_test
import ("testing";"github.com/splinter-lab/splinter/profiles")
func TestLoadAll(t *testing.T){ for _,n:=range profiles.Names(){ if _,err:=profiles.Load(n); err!=nil {t.Errorf("%s: %v",n,err)} } }
