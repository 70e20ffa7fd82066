# Register-, Get- and Unregister-AzsInfrastructureRole against a real daemon.

Describe 'Infrastructure roles' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
    }

    BeforeEach {
        $stateDirectory = New-TestHome
        $data = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'data'
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    Context 'Register-AzsInfrastructureRole' {
        It 'registers a Directory role and returns it as a Role with a UTC RegisteredTime' {
            $role = Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data
            $role.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.Role'
            $role.Name | Should -Be 'WAS'
            $role.Provider | Should -Be 'Directory'
            $role.Path | Should -Be $data
            $role.RegisteredTime | Should -BeOfType [datetime]
            $role.RegisteredTime.Kind | Should -Be 'Utc'
        }

        It 'resolves a relative -Path against the current location' {
            Push-Location -LiteralPath (Split-Path -Parent $data)
            try {
                (Register-AzsInfrastructureRole -Name 'CA' -Provider Directory -Path './data').Path | Should -Be $data
            } finally {
                Pop-Location
            }
        }

        It 'stores the script blocks of a PowerShell role as text' {
            $role = Register-AzsInfrastructureRole -Name 'Domain' -Provider PowerShell -BackupScript { param($Staging) 'users' | Set-Content "$Staging/users.txt" } -RestoreScript { param($Staging) Get-Content "$Staging/users.txt" }
            $role.BackupScript | Should -Match 'users\.txt'
            (Get-AzsInfrastructureRole -Name 'Domain').RestoreScript | Should -Match 'Get-Content'
        }

        It 'registers the roles piped in from a CSV file' {
            $csv = Join-Path $stateDirectory 'roles.csv'
            @([pscustomobject]@{ Name = 'NRP'; Provider = 'Directory'; Path = $data }, [pscustomobject]@{ Name = 'SRP'; Provider = 'Directory'; Path = $data }) |
                Export-Csv -LiteralPath $csv -NoTypeInformation
            @(Import-Csv -LiteralPath $csv | Register-AzsInfrastructureRole).Count | Should -Be 2
            @(Get-AzsInfrastructureRole).Name | Should -Be @('NRP', 'SRP')
        }

        It 'refuses a second role of the same name with AzsBackup.RoleAlreadyExists' {
            Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data | Out-Null
            { Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.RoleAlreadyExists,Register-AzsInfrastructureRole'
        }

        It 'refuses a -Path inside the state folder, on / or in /proc, naming -Path (InvalidArgument)' -ForEach @(
            @{ Folder = 'inside-state'; Why = "lies inside the daemon's state folder" }
            @{ Folder = '/'; Why = 'is the root of the file system' }
            @{ Folder = '/proc'; Why = "the kernel's live view" }
        ) {
            $path = if ($Folder.StartsWith('/')) { $Folder } else { (New-Item -ItemType Directory -Path (Join-Path $stateDirectory $Folder)).FullName }
            $failure = { Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $path -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Register-AzsInfrastructureRole' -PassThru
            $failure.Exception.Message | Should -BeLike "-Path '$path' *$Why*"
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            Get-AzsInfrastructureRole | Should -BeNullOrEmpty
        }

        It 'refuses an unknown provider before calling the daemon' {
            { Register-AzsInfrastructureRole -Name 'X' -Provider 'Tape' -Path $data } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Register-AzsInfrastructureRole'
        }

        It 'registers nothing with -WhatIf' {
            Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data -WhatIf | Should -BeNullOrEmpty
            Get-AzsInfrastructureRole | Should -BeNullOrEmpty
        }
    }

    Context 'Get-AzsInfrastructureRole' {
        BeforeEach {
            foreach ($name in 'KeyVaultDataPlane', 'KeyVaultControlPlane', 'WAS') {
                Register-AzsInfrastructureRole -Name $name -Provider Directory -Path $data | Out-Null
            }
        }

        It 'gets every role, or those matching a wildcard' {
            @(Get-AzsInfrastructureRole).Count | Should -Be 3
            @(Get-AzsInfrastructureRole -Name 'KeyVault*').Name | Sort-Object | Should -Be @('KeyVaultControlPlane', 'KeyVaultDataPlane')
            Get-AzsInfrastructureRole -Name 'Nothing*' | Should -BeNullOrEmpty
        }

        It 'reports a missing exact name with AzsBackup.RoleNotFound' {
            $failure = { Get-AzsInfrastructureRole -Name 'Nope' -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.RoleNotFound,Get-AzsInfrastructureRole' -PassThru
            $failure.TargetObject | Should -Be 'Nope'
        }
    }

    Context 'Unregister-AzsInfrastructureRole' {
        BeforeEach {
            foreach ($name in 'TestA', 'TestB', 'WAS') {
                Register-AzsInfrastructureRole -Name $name -Provider Directory -Path $data | Out-Null
            }
        }

        It 'unregisters the roles piped from Get-AzsInfrastructureRole' {
            Get-AzsInfrastructureRole -Name 'Test*' | Unregister-AzsInfrastructureRole
            @(Get-AzsInfrastructureRole).Name | Should -Be @('WAS')
            Test-Path -LiteralPath $data | Should -BeTrue
        }

        It 'returns the unregistered role with -PassThru' {
            $role = Unregister-AzsInfrastructureRole -Name 'WAS' -PassThru
            $role.Name | Should -Be 'WAS'
            $role.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.Role'
        }

        It 'changes nothing with -WhatIf' {
            Unregister-AzsInfrastructureRole -Name 'TestA', 'WAS' -WhatIf
            @(Get-AzsInfrastructureRole).Count | Should -Be 3
        }

        It 'reports a name that is not registered (AzsBackup.RoleNotFound) and goes on with the others' {
            Unregister-AzsInfrastructureRole -Name 'Nope', 'TestA' -ErrorVariable failures -ErrorAction SilentlyContinue
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.RoleNotFound,Unregister-AzsInfrastructureRole'
            @(Get-AzsInfrastructureRole).Name | Sort-Object | Should -Be @('TestB', 'WAS')
        }
    }
}
