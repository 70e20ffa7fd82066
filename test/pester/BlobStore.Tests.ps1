# The cmdlets with a blob container as -Path: a real daemon, real certificates and a real Azurite
# (Start-TestAzurite), configured with the account key or a SAS token; backups, recovery, and the
# faults an operator meets (a wrong or rotated key, an expired SAS, a missing container) as errors
# and alerts.

Describe 'A blob container as the external store (Azurite)' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $pfxSecret = 'Pfx-Secret-' + [guid]::NewGuid().ToString('N')
        $pfxPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
        $certificate = New-TestPfx -Folder $fixtures -Name 'backup' -Secret $pfxSecret
        $decryption = @{ DecryptionCertPath = $certificate.Pfx; DecryptionCertPassword = $pfxPassword }
        $script:Azurite = Start-TestAzurite

        function New-TestStorePath {
            <# A store of its own for one test: a prefix in the Azurite container. #>
            "$($script:Azurite.ContainerUrl)/stamp-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        }

        function Get-KeySettings([string] $Path = (New-TestStorePath)) {
            <# Set-AzsBackupConfiguration's store parameters with the account name and key. #>
            @{ Path = $Path; UserName = $script:Azurite.Account; Password = (ConvertTo-SecureString $script:Azurite.Key -AsPlainText -Force) }
        }

        function Get-SasToken([string] $Container = 'backups', [int] $Seconds = 3600) {
            (Invoke-TestAzurite -Azurite $script:Azurite -Command "sas $Container $Seconds").sas
        }

        function Get-SasSignature([string] $Token) {
            <# The signature of a SAS token as the token holds it (URL-encoded) and decoded: what must never be written anywhere. #>
            $encoded = (($Token -split '&') -match '^sig=')[0].Substring(4)
            $encoded, [uri]::UnescapeDataString($encoded)
        }

        function Assert-SecretNowhere([string] $StateDirectory, [string[]] $Secret) {
            <# Neither the state folder (config, sealed secrets, logs/daemon.log) nor the shown configuration holds a secret in clear. #>
            (Join-Path $StateDirectory 'logs/daemon.log') | Should -Exist
            $shown = (Get-AzsBackupConfiguration | Format-List -Property * | Out-String) + (Get-AzsBackupConfiguration | ConvertTo-Json)
            foreach ($text in $Secret) {
                Get-FilesContaining -Folder $StateDirectory -Text $text | Should -BeNullOrEmpty
                $shown.Contains($text) | Should -BeFalse
            }
        }
    }

    AfterAll {
        Stop-TestAzurite -Azurite $script:Azurite
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    Context 'Get-Help <_>' -ForEach 'Set-AzsBackupConfiguration', 'Test-AzsBackupShareAccessibility' {
        BeforeAll {
            $help = Get-Help -Name $_ -Full
            $parameter = @{}
            foreach ($entry in $help.Parameters.Parameter) { $parameter[$entry.Name] = ($entry.Description | Out-String) -replace '\s+', ' ' }
        }

        It 'gives the container URL forms of Azure, Azure Stack Hub and Azurite in -Path, and refuses a query there' {
            $parameter.Path | Should -Match ([regex]::Escape('https://<account>.blob.core.windows.net/<container>[/<prefix>]'))
            $parameter.Path | Should -Match ([regex]::Escape('https://<account>.blob.<region>.<fqdn>/<container>[/<prefix>] on Azure Stack Hub'))
            $parameter.Path | Should -Match ([regex]::Escape('http://127.0.0.1:10000/<account>/<container>'))
            $parameter.Path | Should -Match 'query .* refused'
        }

        It 'says -UserName is the account name with a key, and -Password a SAS token or the account key' {
            $parameter.UserName | Should -Match "storage account's name"
            $parameter.Password | Should -Match 'SAS token for the container'
            $parameter.Password | Should -Match "storage account's key"
            $parameter.RequireEncryption | Should -Match 'http://'
        }

        It 'has an example for a container on Azure and one on Azure Stack Hub' {
            $examples = @($help.Examples.Example | ForEach-Object { $_.Code + ' ' + ($_.Remarks | Out-String) })
            @($examples -match 'https://\w+\.blob\.core\.windows\.net/') | Should -HaveCount 1
            @($examples -match '(?s)https://\w+\.blob\.local\.azurestack\.external/.*Azure Stack Hub') | Should -HaveCount 1
        }
    }

    Context 'Set-AzsBackupConfiguration and Get-AzsBackupConfiguration' {
        BeforeEach {
            $stateDirectory = New-TestHome
        }

        AfterEach {
            Remove-TestHome -StateDirectory $stateDirectory
        }

        It 'saves a container URL with the account name and key; Get shows the path and the account, never the key' {
            $settings = Get-KeySettings
            $saved = Set-AzsBackupConfiguration @settings
            $saved.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.BackupLocation'
            foreach ($shown in $saved, (Get-AzsBackupConfiguration)) {
                $shown.Path | Should -Be $settings.Path
                $shown.UserName | Should -Be $script:Azurite.Account
                $shown.Password | Should -BeNullOrEmpty
            }
            Assert-SecretNowhere -StateDirectory $stateDirectory -Secret $script:Azurite.Key
        }

        It 'saves a SAS token given as -Password (with its leading ?), and keeps its signature out of the state folder and the log' {
            $sas = Get-SasToken
            $path = New-TestStorePath
            (Set-AzsBackupConfiguration -Path $path -Password (ConvertTo-SecureString "?$sas" -AsPlainText -Force)).Path | Should -Be $path
            (Get-AzsBackupConfiguration).Path | Should -Be $path
            @(Test-AzsBackupShareAccessibility | Where-Object { -not $_.Passed }) | Should -BeNullOrEmpty
            Assert-SecretNowhere -StateDirectory $stateDirectory -Secret (Get-SasSignature -Token $sas)
        }

        It 'changes nothing with -WhatIf, and its message hides the key' {
            $saved = Get-KeySettings
            Set-AzsBackupConfiguration @saved | Out-Null
            $before = Get-ConfigurationJson
            $settings = Get-KeySettings
            $whatIf = Invoke-PwshProcess -Command ("Import-Module '$($script:ManifestPath)'; Set-AzsBackupConfiguration -Path '$($settings.Path)' " +
                "-UserName '$($script:Azurite.Account)' -Password (ConvertTo-SecureString '$($script:Azurite.Key)' -AsPlainText -Force) -WhatIf")
            $whatIf.ExitCode | Should -Be 0
            Get-FlatText -Text $whatIf.StdOut | Should -Match ([regex]::Escape("Path='$($settings.Path)'"))
            Get-FlatText -Text $whatIf.StdOut | Should -Match 'Password=<hidden>'
            $whatIf.StdOut.Contains($script:Azurite.Key) | Should -BeFalse
            Get-ConfigurationJson | Should -Be $before
        }

        It 'refuses a URL with a query (a pasted SAS) with AzsBackup.InvalidParameter naming -Path, and never repeats the signature' {
            $sas = Get-SasToken
            $signature = Get-SasSignature -Token $sas
            $pasted = "$(New-TestStorePath)?$sas"
            $failure = { Set-AzsBackupConfiguration -Path $pasted } | Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Set-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failure.Exception | Should -BeOfType [System.ArgumentException]
            $failure.Exception.Message | Should -Match '^-Path .* must not carry a query'
            $failure.Exception.Message | Should -Match 'SAS token'
            $failure.Exception.Data['AzsBackup.Parameter'] | Should -Be 'Path'
            foreach ($form in $signature) {
                $failure.Exception.Message.Contains($form) | Should -BeFalse
                "$($failure.TargetObject)".Contains($form) | Should -BeFalse
            }
            (Get-AzsBackupConfiguration).Path | Should -BeNullOrEmpty
            Assert-SecretNowhere -StateDirectory $stateDirectory -Secret $signature
        }

        It 'hides a pasted SAS in the -WhatIf message' {
            $sas = Get-SasToken
            $whatIf = Invoke-PwshProcess -Command "Import-Module '$($script:ManifestPath)'; Set-AzsBackupConfiguration -Path '$(New-TestStorePath)?$sas' -WhatIf"
            $whatIf.ExitCode | Should -Be 0
            Get-FlatText -Text $whatIf.StdOut | Should -Match ([regex]::Escape('?<hidden>'))
            foreach ($form in Get-SasSignature -Token $sas) { (Get-FlatText -Text $whatIf.StdOut).Contains($form) | Should -BeFalse }
        }

        It 'refuses -RequireEncryption with an http:// URL, naming -RequireEncryption and the https:// fix, and saves nothing' {
            $settings = Get-KeySettings
            $failure = { Set-AzsBackupConfiguration @settings -RequireEncryption } |
                Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Set-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failure.Exception.Message | Should -Match '^-RequireEncryption .*plain HTTP.*https://'
            (Get-AzsBackupConfiguration).Path | Should -BeNullOrEmpty
        }

        It 'refuses a wrong key with AzsBackup.AuthenticationFailed (AuthenticationError) and the fix, and saves nothing' {
            $settings = Get-KeySettings
            $settings.Password = ConvertTo-SecureString ([Convert]::ToBase64String([byte[]]::new(64))) -AsPlainText -Force
            $failure = { Set-AzsBackupConfiguration @settings } | Should -Throw -ErrorId 'AzsBackup.AuthenticationFailed,Set-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
            $failure.Exception | Should -BeOfType [System.Security.Authentication.AuthenticationException]
            $failure.Exception.Message | Should -Match "account key of 'devstoreaccount1' was refused"
            $failure.Exception.Message | Should -Match 'Check -Password: a SAS token for the container, or the account key'
            (Get-AzsBackupConfiguration).Path | Should -BeNullOrEmpty
        }

        It 'refuses a missing container with AzsBackup.PathNotFound (ObjectNotFound) and the fix, and saves nothing' {
            $settings = Get-KeySettings -Path ($script:Azurite.ContainerUrl -replace '/backups$', '/missing')
            $failure = { Set-AzsBackupConfiguration @settings } | Should -Throw -ErrorId 'AzsBackup.PathNotFound,Set-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failure.Exception.Message | Should -Match "no container named 'missing'.*Create the container"
            (Get-AzsBackupConfiguration).Path | Should -BeNullOrEmpty
        }
    }

    Context 'backups and recovery' {
        BeforeEach {
            $deployment = New-TestDeployment -CerPath $certificate.Cer -StoreSettings (Get-KeySettings)
            $original = Get-RoleDigests -Deployment $deployment
        }

        AfterEach {
            Remove-TestHome -StateDirectory $deployment.StateDirectory
        }

        It 'backs up, lists, tests with the .pfx and restores every role with -Force; the data equals the backed-up data' {
            $backup = Start-AzsBackup -Force
            $backup.Status | Should -Be 'Succeeded'
            @($backup.RoleStatus.Status | Sort-Object -Unique) | Should -Be @('Succeeded')
            @(Get-AzsBackup).BackupId | Should -Be @($backup.BackupId)

            $tests = @(Test-AzsBackup -Name $backup.BackupId @decryption)
            @($tests.RoleName | Sort-Object) | Should -Be @('CA', 'WAS')
            @($tests.Status | Sort-Object -Unique) | Should -Be @('Succeeded')

            foreach ($folder in $deployment.Data.Values) { Edit-TestRoleData -Folder $folder }
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Not -Be $original.WAS
            Restore-AzsBackup -Name $backup.BackupId @decryption -Force | Should -BeNullOrEmpty
            $restored = Get-RoleDigests -Deployment $deployment
            $restored.WAS | Should -Be $original.WAS
            $restored.CA | Should -Be $original.CA
            Assert-SecretNowhere -StateDirectory $deployment.StateDirectory -Secret $script:Azurite.Key
        }

        It 'backs up with -AsJob: the job completes, its Output is the backup, and Get-AzsBackup lists it' {
            $job = Start-AzsBackup -AsJob -Force
            $job | Wait-Job -Timeout 300 | Out-Null
            $job.State | Should -Be 'Completed'
            $backup = $job.Output | Select-Object -First 1
            $backup.Status | Should -Be 'Succeeded'
            $job | Remove-Job
            (Get-AzsBackup -Name $backup.BackupId).BackupId | Should -Be $backup.BackupId
        }

        It 'backs up with a SAS token, and a fresh deployment pointed at the same prefix finds the backup' {
            $sas = ConvertTo-SecureString (Get-SasToken) -AsPlainText -Force
            Set-AzsBackupConfiguration -UserName '' -Password $sas | Out-Null
            $backup = Start-AzsBackup -Force
            $backup.Status | Should -Be 'Succeeded'

            $freshHome = New-TestHome
            try {
                Set-AzsBackupConfiguration -Path $deployment.Store -Password $sas | Out-Null
                $found = @(Get-AzsBackup)
                $found.BackupId | Should -Be @($backup.BackupId)
                @(Test-AzsBackup -Name $backup.BackupId @decryption).Status | Sort-Object -Unique | Should -Be 'Succeeded'
            } finally {
                Remove-TestHome -StateDirectory $freshHome
                $env:AZSBACKUP_HOME = $deployment.StateDirectory
            }
        }
    }

    Context 'faults: the error and the alert' {
        BeforeAll {
            function Assert-OneActiveAlert {
                <# The one active alert, its title, description and remediation matching; returned for more checks. #>
                param([string] $Title, [string] $Description, [string] $Remediation)
                $alert = @(Get-AzsBackupAlert -State Active)
                $alert.Count | Should -Be 1
                $alert[0].Title | Should -Match $Title
                $alert[0].Description | Should -Match $Description
                $alert[0].Remediation | Should -Match $Remediation
                $alert[0]
            }

            function Assert-ClosedByNextBackup {
                <# Once the fault is mended, the next backup succeeds and closes the alert. #>
                (Start-AzsBackup -Force).Status | Should -Be 'Succeeded'
                Get-AzsBackupAlert -State Active | Should -BeNullOrEmpty
            }
        }

        BeforeEach {
            $container = 'c' + [guid]::NewGuid().ToString('N').Substring(0, 12)
            $containerUrl = (Invoke-TestAzurite -Azurite $script:Azurite -Command "create $container").containerUrl
            $deployment = $null
        }

        AfterEach {
            if ($deployment) { Remove-TestHome -StateDirectory $deployment.StateDirectory }
        }

        It 'a container deleted after configuration: AzsBackup.PathNotFound (ObjectNotFound), a path alert with its remediation, closed once the container is back' {
            $deployment = New-TestDeployment -CerPath $certificate.Cer -StoreSettings (Get-KeySettings -Path $containerUrl)
            Invoke-TestAzurite -Azurite $script:Azurite -Command "delete $container" | Out-Null

            $failure = { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.PathNotFound,Start-AzsBackup' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failure.Exception.Message | Should -Match "no container named '$container'.*Create the container"
            $null = Assert-OneActiveAlert -Title 'fault in the external store path' -Description "no container named '$container'" -Remediation 'Set-AzsBackupConfiguration -Path'

            Invoke-TestAzurite -Azurite $script:Azurite -Command "create $container" | Out-Null
            Assert-ClosedByNextBackup
        }

        It 'a SAS token that expired after configuration: AzsBackup.AuthenticationFailed naming the expiry, an authentication alert asking for a new token' {
            $expires = [datetime]::UtcNow.AddSeconds(8)
            $sas = ConvertTo-SecureString (Get-SasToken -Container $container -Seconds 8) -AsPlainText -Force
            $deployment = New-TestDeployment -CerPath $certificate.Cer -StoreSettings @{ Path = $containerUrl; Password = $sas }
            while ([datetime]::UtcNow -lt $expires.AddSeconds(1)) { Start-Sleep -Milliseconds 250 }

            $failure = { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.AuthenticationFailed,Start-AzsBackup' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
            $failure.Exception.Message | Should -Match 'The SAS token .* \(valid until .*, expired\) was refused'
            $failure.Exception.Message | Should -Match 'Give a new SAS token through -Password'
            $alert = Assert-OneActiveAlert -Title 'authentication problem' -Description 'expired' -Remediation 'Set-AzsBackupConfiguration -Password: a new SAS token'
            # The container's remediation, not the share account's ('enabled, not locked, ... on the share').
            $alert.Remediation | Should -Not -Match 'share'

            Set-AzsBackupConfiguration -Password (ConvertTo-SecureString (Get-SasToken -Container $container) -AsPlainText -Force) | Out-Null
            Assert-ClosedByNextBackup
        }

        # Last: the rotation restarts Azurite with a new key, which the tests after it would need.
        It 'an account key rotated after configuration: AzsBackup.AuthenticationFailed (AuthenticationError), an authentication alert, closed with the new key' {
            $deployment = New-TestDeployment -CerPath $certificate.Cer -StoreSettings (Get-KeySettings -Path $containerUrl)
            $script:Azurite.Key = (Invoke-TestAzurite -Azurite $script:Azurite -Command 'rotate-key').key

            $failure = { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.AuthenticationFailed,Start-AzsBackup' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
            $failure.Exception.Message | Should -Match "account key of 'devstoreaccount1' was refused"
            $null = Assert-OneActiveAlert -Title 'authentication problem' -Description 'Check -Password: a SAS token for the container, or the account key' -Remediation "storage account's current key \(after a key rotation\)"

            Set-AzsBackupConfiguration -Password (ConvertTo-SecureString $script:Azurite.Key -AsPlainText -Force) | Out-Null
            Assert-ClosedByNextBackup
            Assert-SecretNowhere -StateDirectory $deployment.StateDirectory -Secret $script:Azurite.Key
        }
    }
}
